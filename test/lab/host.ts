// Starting and stopping lab hosts. A host is always started fresh: a new
// overlay upper dir on the shared base, its own identity, booted by
// systemd-nspawn, and only "up" once SSH with strict host key checking works.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertHostName,
  BASE_DIR,
  FIXTURE_IP_FIRST,
  FIXTURE_IP_LAST,
  hostPaths,
  isLabIp,
  LAB_LOCK,
  PREFIX_LEN,
  subnetIp,
} from './config.ts';
import { plainText, run, tail } from './exec.ts';
import { updateEtcHostsBlock, writeEtcHosts } from './etc-hosts.ts';
import { removeKnownHosts, setKnownHosts } from './known-hosts.ts';
import { withLock } from './lock.ts';
import { log } from './log.ts';
import { isMounted, removeTree } from './mounts.ts';
import { flushNeighbour } from './network.ts';
import { cgroupPids, killAndRemoveCgroup, nspawnArgv, removeRunState } from './nspawn.ts';
import { portAnswers } from './ports.ts';
import { ensureAptProxy } from './proxy.ts';
import { findProcesses, isProcess, spawnDetached, terminate } from './proc.ts';
import {
  addressesOf,
  currentOwner,
  fqdn,
  type HostRecord,
  isRunning,
  listRecords,
  nspawnPid,
  nspawnSignature,
  ownerAlive,
  readRecord,
  writeRecord,
} from './records.ts';
import { ssh } from './ssh.ts';
import { GiveUp, pollUntil } from './wait.ts';

export interface HostSpec {
  name: string;
  /** Omitted: the lowest free address of the fixture range (.100-.250). */
  ip?: string;
  docker?: boolean;
}

type ClaimedSpec = HostSpec & { ip: string };

export interface StartedHost {
  name: string;
  ip: string;
  fqdn: string;
  docker: boolean;
  pid: number;
  /** milliseconds from spawning nspawn to the first successful `ssh true` */
  bootToSshMs: number;
}

const SSH_DEADLINE_MS = 60_000;
/** sid's sshd also makes a post-quantum host key (ssh-mldsa44-ed25519) that
 * the control machine's OpenSSH and Node's ssh2 do not know; known_hosts gets
 * only the types every client understands. */
const KNOWN_HOST_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'];
const STOP_GRACE_MS = 30_000;

export async function startHost(name: string, opts: { ip?: string; docker?: boolean } = {}): Promise<StartedHost> {
  const [host] = await startHosts([{ name, ...opts }]);
  return host!;
}

/** Starts several hosts together (they boot in parallel and each one's
 * /etc/hosts lists all of them). A host of the same name is replaced (started
 * means fresh) unless it belongs to another test run that is still alive. If
 * any host fails, all hosts of this call are stopped again before the error
 * is thrown. `owner` defaults to the current test run (see records.ts). */
export async function startHosts(specs: HostSpec[], opts: { owner?: string } = {}): Promise<StartedHost[]> {
  const owner = opts.owner ?? currentOwner();
  const claimed = await withLock(LAB_LOCK, () => claim(specs, owner));
  try {
    const others = await runningRecords(claimed.map((s) => s.name));
    const everyone = [...others, ...claimed];
    const prepared = await Promise.all(claimed.map((s) => prepare(s, everyone)));
    await setKnownHosts(prepared);
    const started = await Promise.all(claimed.map((s) => boot(s, owner)));
    // Hosts already up learn the new names too; one that another run stopped meanwhile needs them no more.
    for (const o of others) {
      await updateEtcHostsBlock(hostPaths(o.name).root, everyone).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    return started;
  } catch (err) {
    await Promise.allSettled(claimed.map((s) => stopHost(s.name)));
    throw err;
  }
}

/** Under the lab lock, so that concurrent runs never get the same name or
 * address and a concurrent teardown never removes the bridge or proxy from
 * under them: checks the specs, ends old hosts of the same names, picks free
 * addresses, records the hosts and makes sure bridge and proxy are up. */
async function claim(specs: HostSpec[], owner: string): Promise<ClaimedSpec[]> {
  const seen = new Set<string>();
  for (const s of specs) {
    assertHostName(s.name);
    if (s.ip !== undefined && !isLabIp(s.ip)) throw new Error(`lab host ${s.name}: ${s.ip} is not an address in 10.231.0.2-254`);
    for (const key of [s.name, s.ip]) {
      if (key === undefined) continue;
      if (seen.has(key)) throw new Error(`lab hosts: ${key} is given twice`);
      seen.add(key);
    }
  }
  const names = specs.map((s) => s.name);
  const records = await listRecords();
  for (const r of records) {
    if (!names.includes(r.name) || r.owner === owner || r.owner === 'cli') continue;
    if ((await ownerAlive(r.owner)) && (await isRunning(r))) {
      throw new Error(`lab host ${r.name} is in use by another test run (${r.owner}) that is still going; pick another name`);
    }
  }
  await Promise.all(names.map((n) => stopHost(n)));

  const taken = new Map(records.filter((r) => !names.includes(r.name)).map((r) => [r.ip, r.name]));
  const claimed: ClaimedSpec[] = [];
  let next = FIXTURE_IP_FIRST;
  for (const s of specs) {
    let ip = s.ip;
    if (ip === undefined) {
      while (next <= FIXTURE_IP_LAST && (taken.has(subnetIp(next)) || seen.has(subnetIp(next)))) next++;
      if (next > FIXTURE_IP_LAST) throw new Error('lab hosts: no free address left in 10.231.0.100-250');
      ip = subnetIp(next++);
    } else if (taken.has(ip)) {
      throw new Error(`lab host ${s.name}: ${ip} is already used by lab host ${taken.get(ip)}`);
    }
    claimed.push({ ...s, ip });
    await writeRecord({ name: s.name, ip, docker: s.docker ?? false, owner });
  }
  await ensureAptProxy(); // and the bridge: cheap when up
  return claimed;
}

/** Records of hosts that are up, except the named ones. */
async function runningRecords(except: string[]): Promise<HostRecord[]> {
  const out: HostRecord[] = [];
  for (const r of await listRecords()) if (!except.includes(r.name) && (await isRunning(r))) out.push(r);
  return out;
}

/** Fresh overlay (stopHost has removed any old one) plus the per-host
 * identity. Returns the host's known_hosts entry. */
async function prepare(spec: ClaimedSpec, everyone: Array<{ name: string; ip: string }>) {
  const p = hostPaths(spec.name);
  const docker = spec.docker ?? false;
  await Promise.all([p.upper, p.work, p.root, ...(docker ? [p.docker] : [])].map((d) => mkdir(d, { recursive: true })));
  await run([
    'mount', '-t', 'overlay', `mxplay-lab-${spec.name}`,
    '-o', `lowerdir=${BASE_DIR},upperdir=${p.upper},workdir=${p.work}`,
    p.root,
  ]);
  const etc = join(p.root, 'etc');
  await writeFile(join(etc, 'hostname'), `${spec.name}\n`);
  await writeFile(join(etc, 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
  await mkdir(join(etc, 'systemd/network/10-host0.network.d'), { recursive: true });
  await writeFile(
    join(etc, 'systemd/network/10-host0.network.d/address.conf'),
    `[Network]\nAddress=${spec.ip}/${PREFIX_LEN}\n`,
  );
  await writeEtcHosts(p.root, everyone);
  // Host keys made before boot: known_hosts can hold the real keys from the
  // start, and ssh.service never races its own key generation.
  await run(['chroot', p.root, 'ssh-keygen', '-A']);
  const publicKeys = await Promise.all(
    KNOWN_HOST_KEY_TYPES.map(async (t) =>
      (await readFile(join(etc, `ssh/ssh_host_${t}_key.pub`), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' '),
    ),
  );
  return { names: addressesOf(spec), publicKeys };
}

async function boot(spec: ClaimedSpec, owner: string): Promise<StartedHost> {
  const p = hostPaths(spec.name);
  const docker = spec.docker ?? false;
  await truncate(p.console).catch(() => writeFile(p.console, ''));
  const t0 = performance.now();
  const pid = spawnDetached(nspawnArgv(spec.name, { docker }), p.console);
  await writeRecord({ name: spec.name, ip: spec.ip, docker, pid, startedAt: new Date().toISOString(), owner });
  await flushNeighbour(spec.ip);
  await waitForSsh(spec, pid);
  const bootToSshMs = Math.round(performance.now() - t0);
  log(`${spec.name} (${spec.ip}) up: SSH after ${(bootToSshMs / 1000).toFixed(2)} s`);
  return { name: spec.name, ip: spec.ip, fqdn: fqdn(spec.name), docker, pid, bootToSshMs };
}

/** Waits until a host that is already up answers strict SSH (a host left
 * booting by an interrupted `up` is only usable once it does). */
export async function waitUntilReachable(name: string): Promise<void> {
  const r = await readRecord(name);
  const pid = r && (await nspawnPid(r));
  if (!r || !pid) throw new Error(`lab host ${name} is not running`);
  await waitForSsh(r, pid);
}

async function waitForSsh(spec: { name: string; ip: string }, pid: number): Promise<void> {
  const consoleLog = hostPaths(spec.name).console;
  await pollUntil(
    async () => {
      if (!(await isProcess(pid, nspawnSignature(spec.name)))) {
        throw new GiveUp(`systemd-nspawn for ${spec.name} exited`);
      }
      // A cheap TCP probe first; the real check is a full strict SSH login.
      if (!(await portAnswers(spec.ip, 22, 500))) return false;
      const r = await ssh(spec.ip, 'true', { connectTimeoutS: 3, timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`ssh root@${spec.ip} true: exit ${r.code}: ${r.stderr.trim()}`);
      return true;
    },
    {
      what: `SSH on lab host ${spec.name} (${spec.ip})`,
      timeoutMs: SSH_DEADLINE_MS,
      intervalMs: 100,
      explain: async () =>
        `console log ${consoleLog} (tail):\n${tail(plainText(await readFile(consoleLog, 'utf8').catch(() => '')).trim(), 30)}`,
    },
  );
}

/** Powers the host off (SIGTERM to nspawn = clean shutdown), then removes
 * every trace of it: processes, mounts, nspawn's /run state, its overlay and
 * its known_hosts entries. Safe for unknown and half-made hosts. */
export async function stopHost(name: string): Promise<void> {
  assertHostName(name);
  const p = hostPaths(name);
  const record = await readRecord(name);
  const rootId = (await isMounted(p.root)) ? await stat(p.root) : undefined;
  // By command line, not only the recorded pid: a crash may have come
  // between spawning nspawn and recording its pid.
  const pids = await findProcesses(nspawnSignature(name));
  if (pids.length) log(`stopping ${name}`);
  await Promise.all(pids.map((pid) => terminate(pid, `systemd-nspawn of ${name}`, STOP_GRACE_MS)));
  // Anything left in the host's cgroup (its init after a hard kill of nspawn).
  const killed = await killAndRemoveCgroup(name);
  if (killed) log(`${name}: killed ${killed} process(es) left without their nspawn`);
  await removeRunState(name, rootId);
  // Before the record goes (with the folder): from then on another run may be given this address,
  // and its fresh known_hosts entry must not be the one removed here.
  await removeKnownHosts(record ? addressesOf(record) : [name, fqdn(name)]);
  await removeTree(p.dir); // unmounts the overlay first
}

export interface HostStatus extends HostRecord {
  up: boolean;
  sshPort: boolean;
  /** processes still in the host's cgroup although its nspawn is gone */
  leftoverProcesses: number;
}

export async function hostStatuses(): Promise<HostStatus[]> {
  return Promise.all(
    (await listRecords()).map(async (r) => {
      const pid = await nspawnPid(r);
      const up = pid !== undefined;
      const leftoverProcesses = up ? 0 : (await cgroupPids(r.name)).length;
      const sshPort = await portAnswers(r.ip, 22, 500);
      return { ...r, pid, up, sshPort, leftoverProcesses };
    }),
  );
}
