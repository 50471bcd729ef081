// A host's connection completed with its effective ssh_config: `ssh -G` (OpenSSH's own reading,
// with Include, Match, tokens) and, without OpenSSH, the built-in reader.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Host } from '../../../src/inventory/inventory.ts';
import { connectionParams } from '../../../src/transport/params.ts';
import { resolveParams } from '../../../src/transport/resolve.ts';
import { opensshClient, resetSshConfigCache } from '../../../src/transport/ssh-config.ts';
import { tempDir, writeTree } from '../helpers.ts';

const host = (name: string, vars: Record<string, unknown>): Host => ({ name, groups: ['all'], vars, origins: {} });
let home: string;

beforeEach(() => {
  home = tempDir();
  vi.stubEnv('HOME', home);
  vi.stubEnv('SSH_AUTH_SOCK', '');
  resetSshConfigCache();
});
afterEach(() => {
  vi.unstubAllEnvs();
  resetSshConfigCache();
});

const hasSsh = () => opensshClient() !== null;

// openssh-client is installed by `npm test` (test/lab/tools.ts): a missing one fails here, never skips.
describe('with OpenSSH: ssh -G', () => {
  it('OpenSSH is installed', () => expect(hasSsh(), 'ssh is not installed: run `npx tsx test/lab/cli.ts tools` as root (npm test does)').toBe(true));
  beforeEach(() => {
    writeTree(home, {
      '.ssh/config': [
        'Include ~/.ssh/config.d/*.conf',
        'Match host web* user deploy',
        '  IdentityFile %d/.ssh/deploy_%h',
        'Host web*',
        '  ProxyJump ops@bastion:2222',
        '  UserKnownHostsFile ~/.ssh/known_web',
        'Host bastion',
        '  HostName 10.9.9.9',
        '  IdentityFile ~/.ssh/bastion_key',
        '',
      ].join('\n'),
      '.ssh/config.d/db.conf': 'Host db1\n  HostName 10.1.1.1\n  Port 2022\n  User pg\n',
      '.ssh/deploy_web1.lab': 'not read here',
      '.ssh/bastion_key': 'not read here',
    });
  });

  it('Include: the included file sets address, port and user', async () => {
    const r = await resolveParams(connectionParams(host('db1', {})));
    expect(r).toMatchObject({ address: '10.1.1.1', port: 2022, user: 'pg', jumps: [] });
  });

  it('Match, tokens, ProxyJump with its own config, UserKnownHostsFile, /etc/ssh/ssh_known_hosts', async () => {
    const r = await resolveParams(connectionParams(host('web1', { ansible_host: 'web1.lab', ansible_user: 'deploy' })));
    expect(r.identityFiles).toEqual([join(home, '.ssh/deploy_web1.lab')]);
    expect(r.knownHostsFile).toBe(join(home, '.ssh/known_web'));
    expect(r.extraKnownHostsFiles).toContain('/etc/ssh/ssh_known_hosts');
    expect(r.jumps).toEqual([
      expect.objectContaining({ name: 'bastion', address: '10.9.9.9', port: 2222, user: 'ops', identityFiles: [join(home, '.ssh/bastion_key')] }),
    ]);
  });

  it('the inventory and the command line win: ansible_ssh_common_args, --jump, mxplay_known_hosts_file', async () => {
    const key = join(home, 'inv_key');
    writeFileSync(key, 'x');
    const r = await resolveParams(connectionParams(host('web2', {
      ansible_user: 'root',
      ansible_ssh_common_args: '-o ProxyJump=j1,j2:2200',
      ansible_ssh_private_key_file: key,
      mxplay_known_hosts_file: '/lab/known_hosts',
    }), { jump: 'ignored' }));
    expect(r.jumps.map((j) => [j.name, j.port])).toEqual([['j1', 22], ['j2', 2200]]);
    // The inventory's key is offered to the jump hosts too, after their own.
    expect(r.jumps[0]!.identityFiles).toEqual([key]);
    expect(r.jumps[0]!.knownHostsFiles[0]).toBe('/lab/known_hosts');
    expect(r.knownHostsFile).toBe('/lab/known_hosts');
    const viaFlag = await resolveParams(connectionParams(host('db1', {}), { jump: 'admin@gw' }));
    expect(viaFlag.jumps.map((j) => `${j.user}@${j.name}`)).toEqual(['admin@gw']);
  });

  it('a config ssh cannot read fails the host with ssh\'s own words (file and line)', async () => {
    writeFileSync(join(home, '.ssh/config'), 'Host x\n  Frobnicate yes\n');
    await expect(resolveParams(connectionParams(host('x', {})))).rejects.toThrow(/ssh_config of x: ssh -G x failed: .*\.ssh\/config: line 2: Bad configuration option: frobnicate/);
  });

  it('a ProxyCommand that is no jump is refused', async () => {
    writeFileSync(join(home, '.ssh/config'), 'Host x\n  ProxyCommand nc -x proxy %h %p\n');
    await expect(resolveParams(connectionParams(host('x', {})))).rejects.toThrow(/ProxyCommand 'nc -x proxy %h %p' is not supported/);
  });
});

describe('without OpenSSH: the built-in reader', () => {
  beforeEach(() => {
    vi.stubEnv('MXPLAY_SSH_G', '0');
    resetSshConfigCache();
  });
  it('Host blocks and ProxyJump', async () => {
    writeTree(home, { '.ssh/config': 'Host web*\n  ProxyJump gw\n  User deploy\nHost gw\n  HostName 10.2.2.2\n' });
    const r = await resolveParams(connectionParams(host('web1', {})));
    expect(r).toMatchObject({ address: 'web1', user: 'deploy' });
    expect(r.jumps).toEqual([expect.objectContaining({ name: 'gw', address: '10.2.2.2' })]);
  });
  it('Match is refused, not ignored', async () => {
    writeTree(home, { '.ssh/config': 'Match host web1\n  User x\n' });
    await expect(resolveParams(connectionParams(host('web1', {})))).rejects.toThrow(/line 1: Match needs OpenSSH's client/);
  });
});
