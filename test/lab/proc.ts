// Processes the lab started: spawned detached (they outlive `npm run lab`),
// found again by pid *and* command line (a recorded pid may have been reused
// after a crash), and ended with a deadline.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { pollUntil, sleep } from './wait.ts';

/** argv of a live (non-zombie) process, or undefined. */
export async function processArgv(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows "pid (comm) "; comm may contain spaces.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and its argv contains every one of `mustContain`.
 * While a process is inside execve its cmdline reads empty for a moment (the
 * new image's arguments are not mapped yet); nspawn is started through
 * `unshare` and `sh`, two execs, and a boot poll that hit that moment once
 * took a booting host for dead. An empty argv is read again until the exec is
 * through. */
export async function isProcess(pid: number | undefined, mustContain: string[]): Promise<boolean> {
  if (!pid) return false;
  let argv = await processArgv(pid);
  for (let i = 0; argv?.length === 0 && i < EXEC_REREADS; i++) {
    await sleep(5);
    argv = await processArgv(pid);
  }
  return hasAll(argv, mustContain);
}

const hasAll = (argv: string[] | undefined, mustContain: string[]) => argv !== undefined && mustContain.every((s) => argv.includes(s));

/** 5 ms apart: an exec is through in well under a millisecond. */
const EXEC_REREADS = 40;

export async function allPids(): Promise<number[]> {
  return (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
}

/** Live processes whose argv contains every one of `mustContain`. */
export async function findProcesses(mustContain: string[]): Promise<number[]> {
  const found: number[] = [];
  // One read each: kernel threads have an empty cmdline for good. A process
  // caught inside an exec is missed here; callers that stop hosts also empty
  // the host's cgroup.
  for (const pid of await allPids()) if (hasAll(await processArgv(pid), mustContain)) found.push(pid);
  return found;
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

export async function descendants(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const pid of await allPids()) {
    const ppid = await parentOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Starts `argv` in its own session, not tied to this process: it keeps
 * running after `npm run lab -- up` exits. Output goes to `logFile`. */
export function spawnDetached(argv: string[], logFile: string): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('spawnDetached: empty command');
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    // If it dies at once (bad binary), the caller's readiness poll reports it
    // with the log tail; here we only must not crash on the 'error' event.
    child.on('error', () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

const alive = (pid: number) => processArgv(pid).then((a) => a !== undefined);

/** SIGTERM, wait up to `graceMs` for the process to go, then SIGKILL it and
 * everything below it (a SIGKILLed systemd-nspawn would otherwise leave the
 * container's init running, reparented). Resolves once it is gone. */
export async function terminate(pid: number, what: string, graceMs: number): Promise<void> {
  if (!(await alive(pid))) return;
  signal(pid, 'SIGTERM');
  try {
    await pollUntil(async () => !(await alive(pid)), { what: `${what} to exit`, timeoutMs: graceMs });
    return;
  } catch {
    // fall through to SIGKILL
  }
  for (const child of await descendants(pid)) signal(child, 'SIGKILL');
  signal(pid, 'SIGKILL');
  await pollUntil(async () => !(await alive(pid)), { what: `${what} to exit after SIGKILL`, timeoutMs: 10_000 });
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
