// One small JSON file per lab host (hosts/NAME/host.json): what was started,
// where, and which process runs it. Everything else (is it up?) is derived
// from the live system, never stored.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { DOMAIN, HOSTS_DIR, hostPaths } from './config.ts';
import { findProcesses, isProcess, processArgv } from './proc.ts';

export interface HostRecord {
  name: string;
  ip: string;
  docker: boolean;
  /** pid of systemd-nspawn, once booted */
  pid?: number;
  startedAt?: string;
  /** Who may stop the host: "cli" (`npm run lab -- up`, until `down`) or
   * "run:PID" (a test run; its hosts are leftovers once PID is gone). */
  owner: string;
}

/** The owner of hosts this process starts: the test run (set by the e2e
 * global setup, inherited by its workers), else this process. */
export function currentOwner(): string {
  return process.env.MXPLAY_LAB_OWNER ?? `run:${process.pid}`;
}

/** A run's hosts outlive it only by accident (a crash): then they are free
 * to be replaced or stopped by anyone. */
export async function ownerAlive(owner: string | undefined): Promise<boolean> {
  if (owner === 'cli') return true;
  const pid = Number(/^run:(\d+)$/.exec(owner ?? '')?.[1]);
  return pid > 0 && (await processArgv(pid)) !== undefined;
}

export const fqdn = (name: string) => `${name}.${DOMAIN}`;

/** Every name a client may use for the host; all go into known_hosts. */
export const addressesOf = (r: { name: string; ip: string }) => [r.ip, r.name, fqdn(r.name)];

export async function readRecord(name: string): Promise<HostRecord | undefined> {
  try {
    return JSON.parse(await readFile(hostPaths(name).record, 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(r: HostRecord): Promise<void> {
  const p = hostPaths(r.name);
  await mkdir(p.dir, { recursive: true });
  await writeFile(p.record, `${JSON.stringify(r, null, 2)}\n`);
}

/** Names of every host directory, including half-made ones without a record. */
export async function hostDirNames(): Promise<string[]> {
  try {
    return (await readdir(HOSTS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

export async function listRecords(): Promise<HostRecord[]> {
  const records = await Promise.all((await hostDirNames()).map(readRecord));
  return records.filter((r): r is HostRecord => r !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

/** The systemd-nspawn process of a host carries these on its command line. */
export function nspawnSignature(name: string): string[] {
  return [`--machine=${name}`, `--directory=${hostPaths(name).root}`];
}

/** pid of the host's systemd-nspawn, or undefined if none runs. The record's
 * pid is the fast path; a crash between spawning and recording it is covered
 * by looking for the command line. */
export async function nspawnPid(r: HostRecord): Promise<number | undefined> {
  const signature = nspawnSignature(r.name);
  if (await isProcess(r.pid, signature)) return r.pid;
  return (await findProcesses(signature))[0];
}

export async function isRunning(r: HostRecord): Promise<boolean> {
  return (await nspawnPid(r)) !== undefined;
}
