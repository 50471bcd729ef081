// The whole lab: up (everything a run needs), down (nothing left running or
// mounted but the hosts of test runs still going; base and apt cache kept),
// status.
import { ensureBase, stopStrayBuild } from './base.ts';
import {
  BRIDGE,
  DEFAULT_HOST_COUNT,
  defaultHost,
  HOSTS_DIR,
  MAX_DEFAULT_HOSTS,
  LAB_LOCK,
  STATE_DIR,
} from './config.ts';
import {
  type HostStatus,
  hostStatuses,
  type StartedHost,
  startHosts,
  stopHost,
  waitUntilReachable,
} from './host.ts';
import { clearKnownHosts } from './known-hosts.ts';
import { ensureKernelLimits } from './limits.ts';
import { log, timed } from './log.ts';
import { unmountUnder } from './mounts.ts';
import { cgroupHostNames, removeCgroupRoot } from './nspawn.ts';
import {
  bridgeAddresses,
  bridgeExists,
  ensureNetwork,
  ensureSubnetGuard,
  removeNetwork,
  subnetGuarded,
} from './network.ts';
import { allPids, processArgv } from './proc.ts';
import { ensureAptProxy, proxyStatus, stopAptProxy, type ProxyStatus } from './proxy.ts';
import { type HostRecord, hostDirNames, isRunning, listRecords, ownerAlive } from './records.ts';
import { withLock } from './lock.ts';
import { assertRoot, ensureControlTools } from './tools.ts';

/** Tools, bridge, apt proxy and base: what every lab host needs, idempotent
 * (~0.1 s when all is there). Under the lab lock: two runs starting at once
 * must not both install, start apt-cacher-ng or debootstrap. */
export async function ensureLabInfra(): Promise<void> {
  await withLock(LAB_LOCK, async () => {
    await timed('control tools ready', ensureControlTools);
    await ensureNetwork();
    await ensureKernelLimits();
    await timed('apt proxy ready', ensureAptProxy);
    await timed('base rootfs ready', ensureBase);
  });
}

export interface UpResult {
  started: StartedHost[];
  alreadyUp: string[];
}

/** Brings up lab1..labN. Hosts already up are left as they are (a second
 * `up` is cheap); hosts that are down are started fresh. */
export async function labUp(opts: { hosts?: number; docker?: boolean } = {}): Promise<UpResult> {
  const count = opts.hosts ?? DEFAULT_HOST_COUNT;
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEFAULT_HOSTS) {
    throw new Error(`--hosts must be 1..${MAX_DEFAULT_HOSTS}, got ${opts.hosts}`);
  }
  await ensureLabInfra();
  const wanted = Array.from({ length: count }, (_, i) => defaultHost(i + 1));
  const status = new Map((await hostStatuses()).map((h) => [h.name, h]));
  const alreadyUp = wanted.filter((h) => status.get(h.name)?.up);
  for (const h of alreadyUp) {
    const docker = status.get(h.name)?.docker ?? false;
    const note = docker === (opts.docker ?? false) ? '' : ` (docker ${docker ? 'on' : 'off'}: \`down\` first to change it)`;
    log(`${h.name} already up${note}`);
  }
  await Promise.all(alreadyUp.map((h) => waitUntilReachable(h.name)));
  const missing = wanted.filter((h) => !status.get(h.name)?.up);
  const started = missing.length
    ? await timed(`${missing.length} host(s) booted`, () =>
        startHosts(
          missing.map((h) => ({ ...h, docker: opts.docker ?? false })),
          { owner: 'cli' },
        ),
      )
    : [];
  return { started, alreadyUp: alreadyUp.map((h) => h.name) };
}

export interface DownResult {
  /** Hosts left running: they belong to a test run that is still going. */
  kept: HostRecord[];
}

/** `npm run lab -- down`: the hosts of `up` (owner "cli") and those left by
 * test runs that died, then everything else too (bridge, apt proxy, mounts,
 * also after a crash left state half-made) unless a test run still going on
 * this machine has hosts: those are left alone, with the bridge and proxy
 * they need (see labDownForRun). `all`: every host whoever started it.
 * Keeps the base rootfs, the apt cache and the subnet guard route (see
 * network.ts). */
export async function labDown(opts: { all?: boolean } = {}): Promise<DownResult> {
  if (!opts.all) return labDownForRun('cli');
  assertRoot();
  await withLock(LAB_LOCK, downAll);
  return { kept: [] };
}

/** A test run's teardown: stops the run's own hosts and those left by runs
 * that died, then everything else too (downAll) unless other hosts are
 * still in use: a developer's `npm run lab -- up`, or another test run going
 * on at the same time on this machine (also a host it is still booting:
 * recorded, not yet running). */
export async function labDownForRun(owner: string): Promise<DownResult> {
  assertRoot();
  return withLock(LAB_LOCK, async () => {
    const mine: HostRecord[] = [];
    const kept: HostRecord[] = [];
    for (const r of await listRecords()) {
      if (r.owner === owner || !(await ownerAlive(r.owner))) mine.push(r);
      else if (r.owner !== 'cli' || (await isRunning(r))) kept.push(r);
    }
    await Promise.all(mine.map((r) => stopHost(r.name)));
    if (kept.length === 0) {
      await downAll();
      return { kept };
    }
    log(`leaving bridge and apt proxy up for ${kept.map((r) => `${r.name} (${r.owner})`).join(', ')}`);
    return { kept };
  });
}

async function downAll(): Promise<void> {
  const names = new Set([...(await hostDirNames()), ...(await strayNspawnNames()), ...(await cgroupHostNames())]);
  // Hosts stop in parallel: each clean poweroff takes a second or two.
  const results = await Promise.allSettled([...names].map((n) => stopHost(n)));
  await removeCgroupRoot();
  await clearKnownHosts();
  await stopStrayBuild();
  await stopAptProxy();
  await removeNetwork();
  await ensureSubnetGuard();
  // Whatever is still mounted (a debootstrap killed mid-build leaves its /proc).
  await unmountUnder(STATE_DIR);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    throw new Error(`lab down: ${failed.length} host(s) could not be stopped:\n${failed.map((f) => String(f.reason)).join('\n')}`);
  }
}

/** Names of nspawn processes running a lab root, even without a host dir. */
async function strayNspawnNames(): Promise<string[]> {
  const names: string[] = [];
  for (const pid of await allPids()) {
    const argv = await processArgv(pid);
    if (!argv?.some((a) => a.startsWith(`--directory=${HOSTS_DIR}/`))) continue;
    const machine = argv.find((a) => a.startsWith('--machine='));
    if (machine) names.push(machine.slice('--machine='.length));
  }
  return names;
}

export interface LabStatus {
  hosts: HostStatus[];
  proxy: ProxyStatus;
  bridge: { name: string; exists: boolean; addresses: string[] };
  /** the unreachable route that keeps lab addresses from leaving this machine */
  subnetGuard: boolean;
}

export async function labStatus(): Promise<LabStatus> {
  return {
    hosts: await hostStatuses(),
    proxy: await proxyStatus(),
    bridge: { name: BRIDGE, exists: await bridgeExists(), addresses: await bridgeAddresses() },
    subnetGuard: await subnetGuarded(),
  };
}
