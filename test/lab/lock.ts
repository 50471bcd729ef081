// A lock file shared by every process that changes lab state (a test run's
// fixture, a background `down` after Ctrl-C, `npm run lab`, a second test
// run on the same machine). It holds the holder's pid, so a lock left by a
// killed process is taken over at once instead of after a timeout (a base
// build legitimately holds it for over a minute).
//
// A process that has to wait says so, and for whom: the holder's pid, its
// command line and since when it holds the lock. The file keeps only the pid
// (every checkout of this repository on the machine reads it with Number()),
// the rest is read from the system: the command from /proc/PID/cmdline, the
// test run it works for from its MXPLAY_LAB_OWNER, the time from the file's
// mtime (written once, when the lock is taken).
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from './log.ts';
import { processArgv } from './proc.ts';
import { sleep } from './wait.ts';

const GIVE_UP_MS = 20 * 60_000;

export interface LockOptions {
  /** Where the waiting lines go (default: the lab's log on stderr). */
  report?: (message: string) => void;
  /** First line once a wait has lasted this long (default 1 s: shorter waits are routine). */
  firstReportMs?: number;
  /** Then one line every this long while still waiting (default 30 s). */
  reportEveryMs?: number;
  /** Give up with an error after this long (default 20 min). */
  giveUpMs?: number;
}

/** What can be known about a lock's holder. */
export interface LockHolder {
  pid: number;
  /** Its command line, when it still runs. */
  argv?: string[];
  /** When it took the lock (the lock file's mtime). */
  since?: Date;
  /** The test run it works for (MXPLAY_LAB_OWNER, "run:PID"), when that is not itself. */
  run?: { pid: number; argv?: string[] };
}

async function holderPid(lockFile: string): Promise<number> {
  return Number((await readFile(lockFile, 'utf8').catch(() => '')).trim()) || 0;
}

async function holderAlive(pid: number, lockFile: string): Promise<boolean> {
  // No pid: the file is gone, or written by a checkout that creates it first and writes it next;
  // such a file left empty for long was left by a process killed in between. Gone, it is not to be
  // removed but tried again: another task may have taken it meanwhile (removing that one would let
  // two tasks in at once).
  if (!pid) return stat(lockFile).then((s) => Date.now() - s.mtimeMs < EMPTY_LOCK_MS, () => true);
  return (await processArgv(pid)) !== undefined;
}

/** An empty lock file older than this is taken over. */
const EMPTY_LOCK_MS = 10_000;

/**
 * Creates the lock file with the pid already in it: written beside it, then hard-linked to its
 * name (which fails with EEXIST if it exists), so no other process ever reads it empty.
 */
async function createWithPid(lockFile: string): Promise<void> {
  const tmp = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
  // On a fresh machine the lab's state folder is not there yet: `lab up` is often the first command.
  await mkdir(dirname(lockFile), { recursive: true });
  await writeFile(tmp, `${process.pid}\n`);
  try {
    await link(tmp, lockFile);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The holder of a lock as the system shows it now; undefined when no lock file is there. */
export async function readHolder(lockFile: string): Promise<LockHolder | undefined> {
  const since = await stat(lockFile).then(
    (s) => s.mtime,
    () => undefined,
  );
  if (!since) return undefined;
  const pid = await holderPid(lockFile);
  const holder: LockHolder = { pid, since };
  if (!pid) return holder;
  const argv = await processArgv(pid);
  if (argv) holder.argv = argv;
  const owner = /^run:(\d+)$/.exec((await environ(pid)).MXPLAY_LAB_OWNER ?? '');
  const runPid = Number(owner?.[1]);
  if (runPid && runPid !== pid) {
    const runArgv = await processArgv(runPid);
    holder.run = { pid: runPid, ...(runArgv ? { argv: runArgv } : {}) };
  }
  return holder;
}

async function environ(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
  const env: Record<string, string> = {};
  for (const kv of raw.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

const LOADER_FLAGS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader']);

/** The package a path inside node_modules belongs to (`…/node_modules/tsx/dist/cli.mjs` → tsx). */
function packageOf(arg: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/.exec(arg);
  return m?.[1];
}

/** A command line as a person reads it: no node binary, no loader flags, a package's script by the
 * package's name (`node --require …/tsx/dist/preflight.cjs --import …/tsx/dist/loader.mjs
 * test/lab/cli.ts up` → `tsx test/lab/cli.ts up`), paths under `cwd` relative, at most 160 characters. */
export function describeCommand(argv: readonly string[], cwd = process.cwd()): string {
  const words: string[] = [];
  let i = argv[0] !== undefined && /(^|\/)(node|nodejs)$/.test(argv[0]) ? 1 : 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = a.split('=')[0]!;
    if (LOADER_FLAGS.has(flag)) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      const pkg = value === undefined ? undefined : packageOf(value);
      if (pkg && !words.includes(pkg)) words.push(pkg);
      continue;
    }
    const pkg = packageOf(a);
    if (pkg) {
      if (!words.includes(pkg)) words.push(pkg);
      continue;
    }
    words.push(a.startsWith(`${cwd}/`) ? a.slice(cwd.length + 1) : a);
  }
  const text = words.join(' ');
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

const clock = (d: Date) => d.toTimeString().slice(0, 8);

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The line shown while waiting for a lock: who holds it, doing what, since when. */
export function waitMessage(lockFile: string, holder: LockHolder | undefined, waitedMs: number, now: Date, self = process.pid): string {
  const head = waitedMs < 5_000 ? `waiting for ${lockFile}` : `still waiting (${duration(waitedMs)}) for ${lockFile}`;
  if (!holder) return `${head}: just released`;
  if (!holder.pid) return `${head}: a process is just taking it`;
  const who = holder.argv
    ? `pid ${holder.pid}${holder.pid === self ? ' (this process: another of its tasks holds it)' : ''} (${describeCommand(holder.argv)})`
    : `pid ${holder.pid} (exited: its lock is taken over)`;
  const since = holder.since ? ` since ${clock(holder.since)} (${duration(now.getTime() - holder.since.getTime())} ago)` : '';
  const run = holder.run
    ? `, for test run pid ${holder.run.pid}${holder.run.argv ? ` (${describeCommand(holder.run.argv)})` : ' (gone)'}`
    : '';
  return `${head}: held${since} by ${who}${run}`;
}

export async function withLock<T>(lockFile: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const report = opts.report ?? log;
  const firstReportMs = opts.firstReportMs ?? 1_000;
  const everyMs = opts.reportEveryMs ?? 30_000;
  const giveUpMs = opts.giveUpMs ?? GIVE_UP_MS;
  const start = Date.now();
  let nextReport = start + firstReportMs;
  let reported = false;
  for (;;) {
    try {
      await createWithPid(lockFile);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = await holderPid(lockFile);
      if (!(await holderAlive(pid, lockFile))) {
        await rm(lockFile, { force: true });
        continue;
      }
      const now = Date.now();
      if (now - start > giveUpMs) {
        const why = waitMessage(lockFile, await readHolder(lockFile), now - start, new Date(now));
        throw new Error(`${why}; gave up after ${duration(giveUpMs)}: remove ${lockFile} if no lab command runs`);
      }
      // Another task of this same process (hosts stopped in parallel) is not worth a word: it is brief.
      // Nor is a lock file that is gone or being written (no pid read): the next poll knows more.
      if (now >= nextReport && pid && pid !== process.pid) {
        report(waitMessage(lockFile, await readHolder(lockFile), now - start, new Date(now)));
        reported = true;
        nextReport = now + everyMs;
      }
      await sleep(50);
    }
  }
  if (reported) report(`got ${lockFile} after ${duration(Date.now() - start)}`);
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
