// Production access on real lab hosts: a target whose firewall drops the control machine is
// reached only through a bastion (ProxyJump, host keys checked at both hops); its login user's sudo
// asks for a password, given with -K or ansible_become_password (in clear, or an inline !vault value
// with --vault-password-file), which shows up in no output, no process list (the control machine's
// `ps` sees the lab hosts' processes too) and no file; a missing key, a wrong sudo password, no
// sudo password, no vault password and a wrong bastion key each fail with a clear message and
// touch nothing. Many hosts through a bastion whose sshd allows few unauthenticated connections
// (MaxStartups) are all reached: connection set-up paced per sshd, refusals retried and reported.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { GATEWAY_IP, hostPaths, KEY_FILE, KNOWN_HOSTS_FILE, labHosts, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const BASTION = 'pa-bastion';
const TARGET = 'pa-target';
const PASSWORD = `Pw-${randomBytes(9).toString('base64url')}`;
const VAULT_PASSWORD = `Vault-${randomBytes(9).toString('base64url')}`;
const CONF = '/etc/mxplay-pa/app.conf';

const PLAYBOOK = `
- hosts: all
  become: true
  tasks:
    - directory: { path: /etc/mxplay-pa, mode: "0750" }
    - file: { path: ${CONF}, content: "managed through the bastion\\n", mode: "0640" }
`;

/** Every process's argv on this machine, lab hosts' included, sampled until stopped. */
function watchProcesses() {
  const seen = new Set<string>();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          seen.add(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' '));
        } catch {
          /* gone meanwhile */
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return [...seen];
  };
}

/** Files under dir whose content holds needle (searched here, so the needle is in no argv). */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  const want = Buffer.from(needle);
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 64 * 1024 * 1024 && readFileSync(p).includes(want)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('production access: ProxyJump, sudo with a password', () => {
  let lab: LabFixture;
  let project: string;
  let firewall: string;
  const outputs: CliResult[] = [];
  const targetRoot = () => hostPaths(TARGET).root;
  const run = async (args: string[], input?: string) => {
    const r = await mxplay(args, { cwd: project, ...(input !== undefined ? { input } : {}) });
    outputs.push(r);
    return r;
  };
  const inventory = async (file: string, target: Record<string, unknown>, all: Record<string, unknown> = {}) => {
    await writeFile(join(project, file), stringify({
      all: {
        vars: { ansible_ssh_private_key_file: KEY_FILE, mxplay_known_hosts_file: KNOWN_HOSTS_FILE, mxplay_connect_timeout: 5, ...all },
        hosts: {
          [TARGET]: {
            ansible_host: lab.host(TARGET).ip,
            ansible_user: 'deploy',
            ansible_ssh_common_args: `-o ProxyJump=root@${lab.host(BASTION).ip}`,
            ...target,
          },
        },
      },
    }));
  };
  const result = (r: CliResult) => {
    const res = r.json?.results.find((x) => x.host === TARGET);
    if (process.env.MXPLAY_E2E_SHOW) process.stderr.write(`[production-access] ${res?.status}: ${res?.message ?? ''}\n`);
    return res;
  };

  beforeAll(async () => {
    lab = await labHosts([BASTION, TARGET]);
    // The target: a login user whose sudo asks for a password every time (no cached ticket).
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: `${PASSWORD}\n` }).toString().trim();
    const setup = await lab.ssh(TARGET, [
      'set -e',
      'useradd -m -s /bin/sh deploy',
      `echo 'deploy:${hash}' | chpasswd -e`,
      'install -d -m 700 -o deploy -g deploy /home/deploy/.ssh',
      'install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys',
      "printf 'Defaults:deploy timestamp_timeout=0\\ndeploy ALL=(ALL) ALL\\n' > /etc/sudoers.d/deploy",
      'chmod 440 /etc/sudoers.d/deploy',
      'visudo -c >/dev/null',
    ].join('\n'));
    expect(setup.code, setup.stderr).toBe(0);
    // Then its firewall drops SSH from the control machine; the bastion still gets through.
    const nft = await lab.ssh(TARGET, [
      'export DEBIAN_FRONTEND=noninteractive',
      'apt-get -q -o DPkg::Lock::Timeout=300 install -y nftables >/dev/null 2>&1 || exit 3',
      `nft add table inet mxpa && nft add chain inet mxpa input '{ type filter hook input priority 0; policy accept; }' && nft add rule inet mxpa input ip saddr ${GATEWAY_IP} tcp dport 22 drop`,
    ].join('\n'));
    if (nft.code === 0) {
      firewall = 'nftables';
    } else {
      // No nftables in this lab: sshd itself accepts only logins coming from the bastion.
      const alt = await lab.ssh(TARGET, `printf 'AllowUsers *@${lab.host(BASTION).ip}\\n' > /etc/ssh/sshd_config.d/bastion-only.conf && systemctl reload ssh`);
      expect(alt.code, alt.stderr).toBe(0);
      firewall = 'sshd AllowUsers';
    }
    process.stderr.write(`[production-access] the target drops the control machine with: ${firewall}\n`);
    project = await projectDir('access');
    await writeFile(join(project, 'site.yml'), PLAYBOOK);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('the target does not accept the control machine directly', async () => {
    await inventory('direct.yml', { ansible_ssh_common_args: '', ansible_become_password: PASSWORD, mxplay_connect_timeout: 3 });
    const r = await run(['run', 'site.yml', '-i', 'direct.yml', '--check', '--json']);
    expect(r.code).toBe(1);
    expect(result(r)!.status, `${firewall}: ${r.stdout}`).toBe('unreachable');
    expect(existsSync(join(targetRoot(), CONF))).toBe(false);
  });

  it('without a sudo password: the host fails with sudo\'s own message, nothing planned as create', async () => {
    await inventory('nopass.yml', {});
    const r = await run(['run', 'site.yml', '-i', 'nopass.yml', '--check', '--json']);
    expect(r.code).toBe(1);
    const res = result(r)!;
    expect(res.status).toBe('failed');
    expect(res.message).toContain('sudo: a password is required');
    expect(res.message).toContain('-K (--ask-become-pass) or ansible_become_password');
    expect(r.json!.hosts.find((p) => p.host === TARGET)?.changes ?? []).toEqual([]);
  });

  it('a wrong sudo password fails with sudo\'s words, at once, and changes nothing', async () => {
    await inventory('nopass.yml', {});
    const t0 = Date.now();
    const r = await run(['run', 'site.yml', '-i', 'nopass.yml', '--yes', '--json', '-K'], 'not-the-password\n');
    expect(r.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const res = result(r)!;
    expect(res.status).toBe('failed');
    expect(res.message).toMatch(/Sorry, try again|incorrect password/);
    expect(res.message).toContain('was refused by sudo');
    expect(r.stdout + r.stderr).not.toContain('not-the-password');
    expect(existsSync(join(targetRoot(), '/etc/mxplay-pa'))).toBe(false);
    expect(existsSync(join(targetRoot(), '/var/lib/mxplay'))).toBe(false);
  });

  it('a missing key file is an input error naming the host, the variable and the file; no host is touched', async () => {
    await inventory('nokey.yml', { ansible_ssh_private_key_file: '/nonexistent/deploy_ed25519' });
    const r = await run(['run', 'site.yml', '-i', 'nokey.yml', '--yes', '-K'], `${PASSWORD}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing was changed on any host');
    expect(r.stderr).toContain('ansible_ssh_private_key_file: the private key /nonexistent/deploy_ed25519 does not exist');
    expect(r.stderr).toContain(TARGET);
    expect(r.stderr).toContain('nokey.yml');
    expect(r.stderr).not.toContain('privateKeyPath');
    expect(existsSync(join(targetRoot(), '/etc/mxplay-pa'))).toBe(false);
  });

  it('a wrong host key at the bastion hop is refused before anything reaches the target', async () => {
    // The right key for the target, a different one for the bastion.
    const bastionIp = lab.host(BASTION).ip;
    const other = execFileSync('sh', ['-c', 'd=$(mktemp -d) && ssh-keygen -q -t ed25519 -N "" -f $d/k && cat $d/k.pub && rm -rf $d']).toString().trim().split(' ').slice(0, 2).join(' ');
    const lines = readFileSync(KNOWN_HOSTS_FILE, 'utf8').split('\n').filter((l) => l && !l.split(' ')[0]!.split(',').includes(bastionIp));
    const wrong = join(project, 'wrong_known_hosts');
    await writeFile(wrong, [...lines, `${bastionIp} ${other}`, ''].join('\n'));
    await inventory('wrongkey.yml', { ansible_become_password: PASSWORD, mxplay_known_hosts_file: wrong });
    const r = await run(['run', 'site.yml', '-i', 'wrongkey.yml', '--yes', '--json']);
    expect(r.code).toBe(1);
    const res = result(r)!;
    expect(res.status).toBe('unreachable');
    expect(res.message).toMatch(new RegExp(`^jump host ${bastionIp.replaceAll('.', '\\.')}: HOST KEY MISMATCH`));
    expect(res.message).toContain(`${wrong}:${lines.length + 1}`);
    expect(existsSync(join(targetRoot(), '/etc/mxplay-pa'))).toBe(false);
  });

  it('converges through the bastion with -K: strict host keys at both hops; the password in no argv', async () => {
    await inventory('jump.yml', {});
    const stop = watchProcesses();
    const r = await run(['run', 'site.yml', '-i', 'jump.yml', '--yes', '--json', '-K'], `${PASSWORD}\n`);
    const argvs = await stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, TARGET)).toBe(2);
    const st = statSync(join(targetRoot(), CONF));
    expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([0, 0, '640']);
    expect(readFileSync(join(targetRoot(), CONF), 'utf8')).toBe('managed through the bastion\n');
    expect(argvs.filter((a) => a.includes(PASSWORD))).toEqual([]);
    // The sampling did see the run: mxplay itself, at least.
    expect(argvs.some((a) => a.includes('mxplay') && a.includes('jump.yml'))).toBe(true);

    // Again with -vvv: both hops, their host keys checked, and sudo asking for the password (masked,
    // as the last test checks for every output).
    const again = await run(['run', 'site.yml', '-i', 'jump.yml', '--yes', '--json', '-K', '-vvv'], `${PASSWORD}\n`);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, TARGET)).toBe(0);
    const [bastion, target] = [lab.host(BASTION).ip, lab.host(TARGET).ip];
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const said = (...parts: (string | RegExp)[]) =>
      expect(again.stderr).toMatch(new RegExp(`^${esc(`[${TARGET}] `)}${parts.map((x) => (typeof x === 'string' ? esc(x) : x.source)).join('')}$`, 'm'));
    said(`| through jump host(s): root@${bastion}:22`);
    said(`${bastion}: host key `, /\S+ SHA256:\S+/, `: known: found as ${bastion} in ${KNOWN_HOSTS_FILE} (host key checking strict)`);
    said(`jump host ${bastion}: forwarded a connection to ${target}:22 (as ssh -W) in `, /\d+\.\d{3}s/);
    said(`${TARGET} (${target}): host key `, /\S+ SHA256:\S+: known: .*/);
    said('become root (as deploy): the shell started; sudo asked for the password once: sent');
  });

  it('converges with ansible_become_password from the inventory (a secret by its name: masked everywhere)', async () => {
    await rm(join(targetRoot(), CONF));
    await inventory('jump-var.yml', { ansible_become_password: PASSWORD });
    const stop = watchProcesses();
    const r = await run(['run', 'site.yml', '-i', 'jump-var.yml', '--yes', '--json']);
    const argvs = await stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, TARGET)).toBe(1);
    expect(existsSync(join(targetRoot(), CONF))).toBe(true);
    expect(argvs.filter((a) => a.includes(PASSWORD))).toEqual([]);
    const inv = await run(['inventory', '-i', 'jump-var.yml', '--host', TARGET]);
    expect(inv.stdout).not.toContain(PASSWORD);
  });

  it('converges with a vaulted ansible_become_password (inline !vault, --vault-password-file): the password nowhere in clear', async () => {
    await rm(join(targetRoot(), CONF));
    // Encrypted with Debian's ansible-vault (the tools step installs it), the password on its stdin.
    const vaultPass = join(project, 'vault-pass');
    await writeFile(vaultPass, `${VAULT_PASSWORD}\n`, { mode: 0o600 });
    const [, ...body] = execFileSync('ansible-vault', ['encrypt_string', '--vault-password-file', vaultPass, '--stdin-name', 'ansible_become_password'], { input: PASSWORD, encoding: 'utf8' }).trimEnd().split('\n');
    await inventory('jump-vault.yml', { ansible_become_password: 'VAULTED' });
    const text = await readFile(join(project, 'jump-vault.yml'), 'utf8');
    const vaulted = text.replace(/^( *)ansible_become_password: VAULTED$/m, (_m, ind: string) => `${ind}ansible_become_password: !vault |\n${body.map((l) => `${ind}  ${l.trim()}`).join('\n')}`);
    expect(vaulted).not.toBe(text);
    await writeFile(join(project, 'jump-vault.yml'), vaulted);
    const stop = watchProcesses();
    const r = await run(['run', 'site.yml', '-i', 'jump-vault.yml', '--vault-password-file', vaultPass, '--yes', '--json']);
    const argvs = await stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, TARGET)).toBe(1);
    expect(readFileSync(join(targetRoot(), CONF), 'utf8')).toBe('managed through the bastion\n');
    expect(argvs.filter((a) => a.includes(PASSWORD) || a.includes(VAULT_PASSWORD))).toEqual([]);
    expect(argvs.some((a) => a.includes('mxplay') && a.includes('jump-vault.yml'))).toBe(true);
    // Without the vault password: stopped before any host is reached, naming the file and line.
    await rm(join(targetRoot(), CONF));
    const locked = await run(['run', 'site.yml', '-i', 'jump-vault.yml', '--yes', '--json']);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/jump-vault\.yml:\d+: Ansible Vault: this value is encrypted: give its password with --vault-password-file/);
    expect(existsSync(join(targetRoot(), CONF))).toBe(false);
    const inv = await run(['inventory', '-i', 'jump-vault.yml', '--host', TARGET, '--vault-password-file', vaultPass]);
    expect(inv.code, inv.stderr).toBe(0);
    expect(inv.stdout).toMatch(/ansible_become_password: ["']?\*{8}["']?\n/);
  });

  it('twelve hosts at once through a bastion at MaxStartups 2:100:2: paced, the refusals retried and reported, every host reached', async () => {
    // Past 2 unauthenticated connections the bastion's sshd drops every new one before its banner;
    // mxplay sets up 8 at once per sshd (12 forks): unpaced and unretried, most would be unreachable.
    const limit = await lab.ssh(BASTION, "printf 'MaxStartups 2:100:2\\n' > /etc/ssh/sshd_config.d/maxstartups.conf && systemctl reload ssh");
    expect(limit.code, limit.stderr).toBe(0);
    try {
      // Twelve inventory names for the one target: twelve connections through the bastion.
      const names = Array.from({ length: 12 }, (_, i) => `pa-many-${String(i + 1).padStart(2, '0')}`);
      const ip = lab.host(TARGET).ip;
      await writeFile(join(project, 'many.yml'), stringify({
        all: {
          vars: { ansible_ssh_private_key_file: KEY_FILE, mxplay_known_hosts_file: KNOWN_HOSTS_FILE, mxplay_connect_timeout: 5, ansible_user: 'root', ansible_ssh_common_args: `-o ProxyJump=root@${lab.host(BASTION).ip}` },
          hosts: Object.fromEntries(names.map((n) => [n, { ansible_host: ip }])),
        },
      }));
      // Nothing to change (the hosts are one machine: concurrent applies would meet its apply lock).
      await writeFile(join(project, 'many-site.yml'), '- hosts: all\n  tasks:\n    - command: { cmd: "false", unless: "true" }\n');
      const t0 = Date.now();
      const r = await run(['run', 'many-site.yml', '-i', 'many.yml', '--yes', '-v', '-f', '12']);
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const recap = names.map((n) => new RegExp(`^ {2}${n} +ok=\\d+ {2}changed=0 {2}failed=0 {2}unreachable=0 {2}skipped=0(?: {2}retries=(\\d+))? `, 'm').exec(r.stdout));
      expect(recap.every(Boolean), r.stdout).toBe(true);
      const retries = recap.reduce((n, m) => n + Number(m?.[1] ?? 0), 0);
      const said = r.stderr.match(/^\[pa-many-\d+\] jump host \S+: connection refused by \S+ before the handshake \(sshd MaxStartups\?\): retry \d+ in \d+\.\d s$/gm) ?? [];
      process.stderr.write(`[production-access] 12 hosts through the bastion at MaxStartups 2: ${retries} retries, ${recap.filter((m) => m?.[1]).length} hosts retried, ${seconds.toFixed(1)} s\n`);
      expect(retries, r.stderr).toBeGreaterThan(0);
      expect(said).toHaveLength(retries);
    } finally {
      const back = await lab.ssh(BASTION, 'rm -f /etc/ssh/sshd_config.d/maxstartups.conf && systemctl reload ssh');
      expect(back.code, back.stderr).toBe(0);
    }
  });

  it('the password is in no output of any run and in no file on either host or in the project (but the inventories that hold it in clear)', () => {
    for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    for (const h of [TARGET, BASTION]) expect(filesHolding(hostPaths(h).upper, PASSWORD)).toEqual([]);
    expect(filesHolding(project, PASSWORD).map((f) => f.slice(project.length + 1)).sort()).toEqual(['direct.yml', 'jump-var.yml', 'wrongkey.yml']);
    // The vault password neither: only in its own file.
    for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(VAULT_PASSWORD);
    for (const h of [TARGET, BASTION]) expect(filesHolding(hostPaths(h).upper, VAULT_PASSWORD)).toEqual([]);
    expect(filesHolding(project, VAULT_PASSWORD).map((f) => f.slice(project.length + 1))).toEqual(['vault-pass']);
  });
});
