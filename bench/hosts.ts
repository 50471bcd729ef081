// The bench's lab hosts bench1..benchN: booted as the matrix needs them, in batches (dozens at
// once would all wait for SSH together on 2 cores), set up once, reset before each first run, and
// re-booted when someone else's `lab down` takes them away mid-run.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hostPaths, KEY_FILE, KNOWN_HOSTS_FILE, labHosts, ssh, type LabFixture, type LabHost, type SshOptions } from '../test/lab/index.ts';
import { log, sleep } from './proc.ts';
import { resetScript, setupScript } from './workload.ts';

export const benchNames = (n: number) => Array.from({ length: n }, (_, i) => `bench${i + 1}`);

/** The hosts of several labHosts() calls as one, grown as the matrix needs more. */
export interface BenchLab {
  hosts: LabHost[];
  keyFile: string;
  knownHostsFile: string;
  host(name: string): LabHost;
  ssh(name: string, command: string, opts?: SshOptions): ReturnType<LabFixture['ssh']>;
  /** Boots and sets up bench1..bench`count` that are not up yet. */
  grow(count: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * bench1..bench`count`, booted and set up; more with `grow`. Why not all at once: a point of a few
 * hosts measured beside dozens of idle ones shares the machine with them, which a user of a few
 * hosts does not.
 */
export async function bootBench(count: number, opts: { batch: number; ansibleHosts: string[] }): Promise<BenchLab> {
  const fixtures: LabFixture[] = [];
  const hosts: LabHost[] = [];
  const host = (name: string) => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`bench: no lab host ${name}`);
    return h;
  };
  const lab: BenchLab = {
    hosts,
    keyFile: KEY_FILE,
    knownHostsFile: KNOWN_HOSTS_FILE,
    host,
    ssh: (name, command, o) => ssh(host(name).ip, command, o),
    stop: async () => {
      await Promise.all(fixtures.map((f) => f.stop()));
    },
    grow: async (n) => {
      const names = benchNames(n).slice(hosts.length);
      if (!names.length) return;
      await boot(names);
      // Ansible's apt module needs python3-apt on the target (it would install it itself on the
      // first run); it is installed here, outside the timings, like python3 for every module.
      const forAnsible = names.filter((h) => opts.ansibleHosts.includes(h));
      log(`set-up of ${names[0]}..${names.at(-1)}: the app unit, hosts reset${forAnsible.length ? `; python3-apt for Ansible on ${forAnsible.length} host(s)` : ''}`);
      await inBatches(names, 10, async (h) => {
        const apt = forAnsible.includes(h) ? 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-apt >/dev/null\n' : '';
        const r = await lab.ssh(h, `set -e\n${apt}${setupScript()}\n${resetScript()}`);
        if (r.code !== 0) throw new Error(`set-up of ${h}: exit ${r.code}: ${r.stderr}`);
      });
    },
  };
  const boot = async (names: string[]) => {
    for (let i = 0; i < names.length; i += opts.batch) {
      const batch = names.slice(i, i + opts.batch);
      log(`booting lab hosts ${batch[0]}..${batch.at(-1)} (${hosts.length + batch.length} in all)`);
      // Other runs start and stop their hosts meanwhile; a boot that trips over one is tried again.
      for (let attempt = 1; ; attempt++) {
        try {
          const f = await labHosts(batch);
          fixtures.push(f);
          hosts.push(...f.hosts);
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
          log(`booting failed (${(e as Error).message.split('\n')[0]}); trying again`);
          await sleep(5000);
        }
      }
    }
  };
  try {
    await lab.grow(count);
  } catch (e) {
    await lab.stop(); // the caller has no lab to stop yet; a later grow's failure is the caller's to stop
    throw e;
  }
  return lab;
}

/** At most `n` at once: dozens of ssh processes starting together only queue on 2 cores. */
export async function inBatches<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** An Ansible YAML inventory of these hosts in group `bench` (what labHosts' writeInventory writes). */
export function writeInventory(lab: BenchLab, dir: string, hosts: string[]): string {
  mkdirSync(dir, { recursive: true });
  const inv = {
    all: {
      vars: { ansible_user: 'root', ansible_ssh_private_key_file: lab.keyFile, mxplay_known_hosts_file: lab.knownHostsFile },
      hosts: Object.fromEntries(hosts.map((h) => [h, { ansible_host: lab.host(h).ip }])),
      children: { bench: { hosts: Object.fromEntries(hosts.map((h) => [h, {}])) } },
    },
  };
  const path = join(dir, 'hosts.yml');
  writeFileSync(path, stringify(inv));
  return path;
}

/** ssh to a host, tried again while it refuses: sshd re-executes itself on each "reload ssh". */
export async function sshRetry(lab: BenchLab, host: string, command: string) {
  for (let attempt = 1; ; attempt++) {
    const r = await lab.ssh(host, command, { connectTimeoutS: 5, timeoutMs: 300_000 });
    if (r.code !== 255 || attempt >= 20) return r;
    await sleep(250);
  }
}

export async function reset(lab: BenchLab, hosts: string[]): Promise<void> {
  await inBatches(hosts, 10, async (h) => {
    const r = await sshRetry(lab, h, resetScript());
    if (r.code !== 0) throw new Error(`reset of ${h}: exit ${r.code}: ${r.stderr}`);
  });
}

/** After a first run (its handlers reloaded sshd), untimed: wait until every sshd takes logins again. */
export async function settle(lab: BenchLab, hosts: string[]): Promise<void> {
  await sleep(300);
  await inBatches(hosts, 10, async (h) => {
    const r = await sshRetry(lab, h, 'true');
    if (r.code !== 0) throw new Error(`${h} does not take SSH logins after a first run: ${r.stderr}`);
  });
}

/** Our hosts that are gone: record removed or taken over, or no longer answering SSH. */
export async function lostHosts(lab: BenchLab, names: string[]): Promise<string[]> {
  const owner = process.env.MXPLAY_LAB_OWNER ?? `run:${process.pid}`;
  const lost: string[] = [];
  for (const name of names) {
    let ours = false;
    try {
      ours = (JSON.parse(readFileSync(hostPaths(name).record, 'utf8')) as { owner?: string }).owner === owner;
    } catch {
      /* no record: gone */
    }
    if (!ours || (await lab.ssh(name, 'true', { connectTimeoutS: 3, timeoutMs: 10_000 })).code !== 0) lost.push(name);
  }
  return lost;
}
