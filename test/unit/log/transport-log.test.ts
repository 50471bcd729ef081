// What the transport logs at -vvv that can be checked without a server: host key fingerprints
// as OpenSSH prints them, the negotiated algorithms line, become's outcome, and a local exec.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configureLog } from '../../../src/log.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { becomeOutcome } from '../../../src/transport/become.ts';
import { localConnection } from '../../../src/transport/local.ts';
import { describeNegotiated, fingerprint } from '../../../src/transport/ssh.ts';
import { tempDir } from '../helpers.ts';
import { capture } from './capture.ts';

describe('host key fingerprints', () => {
  // ssh-keygen is OpenSSH's client, which `npm test` installs (test/lab/tools.ts), as the other transport tests need.
  it('are the SHA256 ones ssh-keygen -l prints', () => {
    const dir = tempDir();
    const key = join(dir, 'k');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
    const blob = Buffer.from(readFileSync(`${key}.pub`, 'utf8').split(' ')[1]!, 'base64');
    const printed = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' }).stdout.split(' ')[1];
    expect(fingerprint(blob)).toBe(printed);
  });
});

describe('negotiated algorithms', () => {
  it('one line: kex, host key, each direction (an AEAD cipher without a MAC)', () => {
    expect(describeNegotiated({
      kex: 'curve25519-sha256',
      serverHostKey: 'ssh-ed25519',
      cs: { cipher: 'chacha20-poly1305@openssh.com', mac: '', compress: 'none' },
      sc: { cipher: 'aes128-ctr', mac: 'hmac-sha2-256-etm@openssh.com', compress: 'none' },
    })).toBe('kex curve25519-sha256, host key ssh-ed25519, client→server chacha20-poly1305@openssh.com, server→client aes128-ctr hmac-sha2-256-etm@openssh.com');
  });
});

describe('become', () => {
  it('says whether sudo asked for the password, never the password', () => {
    const base = { code: 0, stdout: '', stderr: '' };
    expect(becomeOutcome(base, 'root', 'deploy')).toBe('become root (as deploy): the shell started; sudo -n');
    expect(becomeOutcome({ ...base, asked: 0 }, 'root', 'deploy')).toMatch(/did not ask/);
    expect(becomeOutcome({ ...base, asked: 1 }, 'root', 'deploy')).toMatch(/asked for the password once: sent/);
    expect(becomeOutcome({ ...base, code: 1, asked: 2, becomeFailed: 'refused' }, 'postgres', 'deploy')).toBe('become postgres (as deploy): failed (refused); sudo asked 2 times: the password was refused');
  });
});

describe('a local connection at -vvv', () => {
  it('logs the command each exec starts', async () => {
    const out = capture();
    configureLog({ verbosity: 3, secrets: new SecretRegistry(), stream: out.stream });
    const r = await localConnection('here', false).run('echo hi');
    expect(r.stdout).toBe('hi\n');
    expect(out.text()).toBe('[here] exec locally: /bin/sh -c /bin/sh -s\n');
  });
});
