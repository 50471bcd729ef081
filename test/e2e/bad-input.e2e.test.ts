// Bad input never reaches a host. Malformed YAML, a var of the wrong type (in one host's
// host_vars only), an unknown var, a missing secret, an unknown role, a host pattern or --limit
// that matches nothing: each is a clear error naming the file (and line), host, role and key as
// they apply, exit 1, and the sshd log of both lab hosts shows that mxplay never even logged in.
// A host key that is not the known one is refused before logging in, unless the user says so.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { mxplay } from './helpers/mxplay.ts';

const HOSTS = ['saf4', 'saf5'] as const;
type Host = (typeof HOSTS)[number];
const SERVER_VARS = (h: Host) => `synapse_server_name: ${h}.lab.test\nsynapse_public_baseurl: https://${h}.lab.test/\n`;
const MARKER = '/etc/mxplay-bad-input-probe';

describe('bad input on two lab hosts: a clear error, exit 1, and no login on any host', () => {
  let lab: LabFixture;
  let project: string;
  let fingerprint: string;
  const cli = (...args: string[]) => mxplay(args, { cwd: project });
  const inProject = (rel: string) => join(project, rel);

  /** mxplay logs in with a key of its own: sshd logs every login with that key's fingerprint. */
  const logins = async (h: Host) => {
    const r = await lab.ssh(h, `journalctl -o cat --no-pager | grep -F 'Accepted publickey' | grep -cF '${fingerprint}'`);
    return Number(r.stdout.trim());
  };
  const allLogins = () => Promise.all(HOSTS.map(logins));

  beforeAll(async () => {
    lab = await labHosts([...HOSTS]);
    project = await mkdtemp(join(tmpdir(), 'mxplay-bad-input-'));
    const key = inProject('mxplay_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mxplay-bad-input', '-f', key]);
    fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
    for (const h of HOSTS) expect((await lab.ssh(h, `echo '${pub}' >> /root/.ssh/authorized_keys`)).code).toBe(0);

    const inv = inProject('inventory/lab');
    await lab.writeInventory(inv, { ansible_ssh_private_key_file: key, synapse_package_source: 'debian' }, { matrix: [...HOSTS] });
    await mkdir(join(inv, 'group_vars'));
    await mkdir(join(inv, 'host_vars'));
    await writeFile(join(inv, 'group_vars', 'all.yml'), 'mxplay_master_secret: bad-input-master-secret-0123\n');
    for (const h of HOSTS) await writeFile(join(inv, 'host_vars', `${h}.yml`), SERVER_VARS(h));
    await writeFile(inProject('site.yml'), '- hosts: matrix\n  roles: [postgres, synapse]\n');
    await writeFile(inProject('probe.yml'), `- hosts: matrix\n  tasks:\n    - file: { path: ${MARKER}, content: "probe\\n" }\n`);
  });

  afterAll(async () => {
    await lab?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('a valid run logs in to each host once (the login the tests below must not see)', async () => {
    const before = await allLogins();
    const r = await cli('run', 'probe.yml', '-i', 'lab', '--yes');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await allLogins()).toEqual(before.map((n) => n + 1));
    for (const h of HOSTS) expect((await lab.ssh(h, `cat ${MARKER}`)).stdout).toBe('probe\n');
  });

  interface Case {
    name: string;
    /** Files written (relative to the project) for this case only; null removes the file. */
    files?: Record<string, string | null>;
    args: string[];
    error: RegExp;
  }
  const run = (playbook: string, ...more: string[]) => ['run', playbook, '-i', 'lab', '--yes', ...more];
  const cases: Case[] = [
    {
      name: 'malformed YAML in the playbook points at its file and line',
      files: { 'broken.yml': '- hosts: matrix\n  roles: [postgres, synapse]\n   vars: {}\n' },
      args: run('broken.yml'),
      error: /^error: broken\.yml:3: malformed YAML: All mapping items must start at the same column$/m,
    },
    {
      name: 'malformed YAML in a host_vars file points at its file and line',
      files: { 'inventory/lab/host_vars/saf5.yml': `${SERVER_VARS('saf5')}\tsynapse_presence: false\n` },
      args: run('site.yml'),
      error: /^error: inventory\/lab\/host_vars\/saf5\.yml:3: malformed YAML: Tabs are not allowed as indentation/m,
    },
    {
      name: "a var of the wrong type in one host's host_vars stops the run for both hosts",
      files: { 'inventory/lab/host_vars/saf5.yml': `${SERVER_VARS('saf5')}synapse_http_port: eighty\n` },
      args: run('site.yml'),
      error: /^ {2}- inventory\/lab\/host_vars\/saf5\.yml:3, host saf5, role synapse, key synapse_http_port: synapse_http_port: .*expected number/m,
    },
    {
      name: 'an unknown var is named where it is set, with a "did you mean"',
      files: { 'inventory/lab/group_vars/matrix.yml': 'synapse_max_upload_size: 100M\nsynapse_server_nme: typo.lab.test\n' },
      args: run('site.yml'),
      error: /^ {2}- inventory\/lab\/group_vars\/matrix\.yml:2, host saf4, key synapse_server_nme: synapse_server_nme: not a variable of any role; did you mean synapse_server_name\?$/m,
    },
    {
      name: 'a missing secret names the host, the role and the key that would provide it',
      files: { 'inventory/lab/group_vars/all.yml': null },
      args: run('site.yml'),
      error: /^ {2}- host saf4, role synapse, key mxplay_master_secret: needs a secret for 'synapse_db_password': set that variable, or mxplay_master_secret/m,
    },
    {
      name: 'an unknown role points at the playbook line, with a "did you mean"',
      files: { 'typo.yml': '- hosts: matrix\n  roles:\n    - postgres\n    - synapes\n' },
      args: run('typo.yml'),
      error: /^ {2}- typo\.yml:4, role synapes: unknown role 'synapes'; did you mean synapse\?/m,
    },
    {
      name: 'a play whose hosts match nothing names the pattern, its line and what the inventory has',
      files: { 'nohosts.yml': '- hosts: matrx\n  roles: [postgres, synapse]\n' },
      args: run('nohosts.yml'),
      error: /^ {2}- nohosts\.yml:1: no play matches any host: hosts 'matrx', did you mean matrix\? \(inventory hosts: saf4, saf5; groups: /m,
    },
    {
      name: 'a --limit that matches nothing says what the inventory has',
      args: run('site.yml', '--limit', 'saf9'),
      error: /^error: --limit 'saf9' matches no host \(hosts: saf4, saf5; groups: /m,
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s; exit 1, and no login on any host', async (_name, c) => {
    const saved = new Map<string, string | null>();
    for (const [rel, text] of Object.entries(c.files ?? {})) {
      saved.set(rel, await readFile(inProject(rel), 'utf8').catch(() => null));
      if (text === null) await rm(inProject(rel));
      else await writeFile(inProject(rel), text);
    }
    try {
      const before = await allLogins();
      const r = await cli(...c.args);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(c.error);
      expect(r.stdout).toBe('');
      expect(await allLogins()).toEqual(before);
    } finally {
      for (const [rel, text] of saved) {
        if (text === null) await rm(inProject(rel), { force: true });
        else await writeFile(inProject(rel), text);
      }
    }
  });

  it('a host key that is not the known one is refused before logging in, also with accept-new; the fix the message gives works', async () => {
    const ip = lab.host('saf4').ip;
    // A known_hosts that pins saf4 to some other ed25519 key, as after a reinstall (or an attacker).
    const other = inProject('other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const known = inProject('known_hosts');
    await writeFile(known, `${ip} ${(await readFile(`${other}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}\n`);
    await writeFile(inProject('inventory/lab/host_vars/saf4.yml'), `${SERVER_VARS('saf4')}mxplay_known_hosts_file: ${known}\n`);
    await lab.ssh('saf4', `rm -f ${MARKER}`);

    const before = await logins('saf4');
    for (const checking of ['strict', 'accept-new']) {
      const r = await cli(...run('probe.yml', '--limit', 'saf4', '--host-key-checking', checking));
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain(`saf4 unreachable:\n  HOST KEY MISMATCH: saf4 (${ip}) presents a different ssh-ed25519 key than ${known}:1.`);
    }
    expect(await logins('saf4')).toBe(before);
    expect((await lab.ssh('saf4', `test -e ${MARKER}`)).code).toBe(1);

    // Asked for explicitly, the check is off: a dry run then connects.
    const off = await cli('run', 'probe.yml', '-i', 'lab', '--limit', 'saf4', '--check', '--host-key-checking', 'off');
    expect(off.code, off.stdout + off.stderr).toBe(0);
    expect(await logins('saf4')).toBe(before + 1);

    // The message says how to drop the stale entry; after that, accept-new records the real key.
    const r = await cli(...run('probe.yml', '--limit', 'saf4'));
    const fix = /\(ssh-keygen -R (\S+) -f (\S+)\)/.exec(r.stdout);
    expect(fix, r.stdout).not.toBeNull();
    execFileSync('ssh-keygen', ['-R', fix![1]!, '-f', fix![2]!], { stdio: 'ignore' });
    const accepted = await cli(...run('probe.yml', '--limit', 'saf4', '--host-key-checking', 'accept-new'));
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect((await lab.ssh('saf4', `cat ${MARKER}`)).stdout).toBe('probe\n');
    // the same ed25519 key as the lab's own known_hosts has for saf4
    const keyOf = (text: string) => text.split('\n').find((l) => l.split(/[ ,]/).includes(ip) && l.includes(' ssh-ed25519 '))?.split(' ')[2];
    expect(keyOf(await readFile(known, 'utf8'))).toBe(keyOf(await readFile(lab.knownHostsFile, 'utf8')));
  });
});
