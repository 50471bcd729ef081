// Proves the lab itself, before any role is tested on it: fresh hosts boot
// with real systemd, answer strict SSH, see each other by name, install
// packages through the lab's apt proxy, and leave nothing behind when stopped.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hostPaths } from '../lab/config.ts';
import { run } from '../lab/exec.ts';
import { labHosts, type LabFixture, type LabHost } from '../lab/fixture.ts';
import { hostStatuses } from '../lab/host.ts';
import { isMounted } from '../lab/mounts.ts';
import { cgroupPids, hostCgroup } from '../lab/nspawn.ts';
import { processArgv } from '../lab/proc.ts';
import { sshArgv } from '../lab/ssh.ts';

describe('lab hosts', { timeout: 180_000 }, () => {
  let lab: LabFixture;

  beforeAll(async () => {
    lab = await labHosts(['labtest1', 'labtest2']);
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('each host answers SSH as root with its host key checked against the lab known_hosts', async () => {
    for (const h of lab.hosts) {
      const r = await lab.ssh(h.name, 'hostname');
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(h.name);
    }
  });

  it('a host presenting another host’s key is refused (strict checking is real)', async () => {
    const [a, b] = lab.hosts;
    // A known_hosts that claims b's address has a's keys.
    const aKeys = (await readFile(lab.knownHostsFile, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith(`${a!.ip},`))
      .map((l) => `${b!.ip} ${l.split(' ').slice(1).join(' ')}`);
    expect(aKeys.length).toBeGreaterThan(0);
    const dir = await mkdtemp(join(tmpdir(), 'lab-e2e-'));
    const forged = join(dir, 'known_hosts');
    await writeFile(forged, `${aKeys.join('\n')}\n`);
    const argv = sshArgv(b!.ip).map((arg) => (arg.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${forged}` : arg));
    const r = await run([...argv, 'true'], { allowFail: true, timeoutMs: 30_000 });
    await rm(dir, { recursive: true });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/host key/i);
  });

  it('each host runs systemd as PID 1 and boots to running, with no failed unit', async () => {
    for (const h of lab.hosts) {
      const r = await lab.ssh(h.name, 'cat /proc/1/comm; systemctl is-system-running --wait; systemctl --failed --no-legend', {
        timeoutMs: 120_000,
      });
      const [pid1, state, ...failed] = r.stdout.trim().split('\n');
      expect(pid1).toBe('systemd');
      expect({ host: h.name, state, failed }).toEqual({ host: h.name, state: 'running', failed: [] });
    }
  });

  it('each host has its own cgroup tree, so no unit of one host holds processes of another', async () => {
    const [a, b] = await Promise.all(lab.hosts.map((h) => cgroupPids(h.name)));
    expect(a!.length).toBeGreaterThan(3);
    expect(b!.length).toBeGreaterThan(3);
    expect(a!.filter((pid) => b!.includes(pid))).toEqual([]);
  });

  it('each host has its own identity: hostname, machine-id, SSH host key', async () => {
    const ids = await Promise.all(
      lab.hosts.map(async (h) => (await lab.ssh(h.name, 'cat /etc/machine-id /etc/ssh/ssh_host_ed25519_key.pub')).stdout),
    );
    expect(new Set(ids).size).toBe(lab.hosts.length);
  });

  it('hosts reach each other by name and by NAME.lab.test', async () => {
    const [a, b] = lab.hosts as [LabHost, LabHost];
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const r = await lab.ssh(from.name, `getent hosts ${to.name} ${to.fqdn} && ping -c1 -W2 ${to.name} && ping -c1 -W2 ${to.fqdn}`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${to.ip}`);
    }
  });

  it('apt installs a package through the lab proxy (hosts have no other way out)', async () => {
    const h = lab.hosts[0]!;
    const route = await lab.ssh(h.name, 'ip route show default');
    expect(route.stdout.trim()).toBe('');
    const r = await lab.ssh(h.name, 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello && hello', {
      timeoutMs: 170_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('Hello, world!');
  });

  it('the sudo user logs in by key and becomes root without a password', async () => {
    const r = await lab.ssh(lab.hosts[1]!.name, 'id -un; sudo -n id -u', { user: 'mxplay' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['mxplay', '0']);
  });

  it('writeInventory writes an Ansible YAML inventory with each address, the lab key and known_hosts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-e2e-inv-'));
    const path = await lab.writeInventory(dir, { synapse_server_name: 'example.test' }, { matrix: ['labtest1'] });
    const inv = parse(await readFile(path, 'utf8'));
    await rm(dir, { recursive: true });
    expect(inv.all.vars).toMatchObject({
      ansible_user: 'root',
      ansible_ssh_private_key_file: lab.keyFile,
      mxplay_known_hosts_file: lab.knownHostsFile,
      synapse_server_name: 'example.test',
    });
    for (const h of lab.hosts) expect(inv.all.hosts[h.name]).toEqual({ ansible_host: h.ip });
    expect(Object.keys(inv.all.children.matrix.hosts)).toEqual(['labtest1']);
  });

  it('after stop() no nspawn process, mount, host dir or known_hosts entry is left', async () => {
    const statuses = await hostStatuses();
    const ours = lab.hosts.map((h) => statuses.find((s) => s.name === h.name)!);
    expect(ours.every((s) => s.up && s.pid)).toBe(true);

    await lab.stop();

    const knownHosts = await readFile(lab.knownHostsFile, 'utf8');
    for (const s of ours) {
      expect(await processArgv(s.pid!)).toBeUndefined();
      expect(await isMounted(hostPaths(s.name).root)).toBe(false);
      await expect(readFile(hostPaths(s.name).record)).rejects.toThrow();
      expect(knownHosts).not.toContain(`${s.ip},`);
      await expect(readFile(`/run/systemd/nspawn/propagate/${s.name}`)).rejects.toThrow();
      await expect(readFile(`${hostCgroup(s.name)}/cgroup.procs`)).rejects.toThrow();
    }
    const left = (await hostStatuses()).map((s) => s.name);
    for (const h of lab.hosts) expect(left).not.toContain(h.name);
  });
});
