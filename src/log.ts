// Verbose lines (-v, -vv, -vvv) and the log file (--log-file FILE, MXPLAY_LOG): what mxplay does
// on each host, for when something goes wrong. One log per process (one command per process):
// configureLog at the start of a command, closeLog at its end.
//
// Levels:
//   1 (-v)    per-host timings (connect, probe, each apply batch, handlers), round trips,
//             handler decisions (which runs and why, which is skipped)
//   2 (-vv)   also the probe and apply scripts sent to each host (their data elided, see
//             scriptForLog in engine/scripts.ts)
//   3 (-vvv)  also transport details: negotiated algorithms, host key fingerprints and how
//             they were checked, jump hosts, authentication attempts, become (sudo)
//
// Every line goes through the run's SecretRegistry when it is written (not when it is made), so
// secrets registered after configureLog are masked too. Lines go to stderr (stdout carries
// --json and plans); the log file gets the same lines, each with an ISO timestamp, at least at
// level 1. Writes are synchronous: nothing is lost when the process exits, and a line is never
// cut by another host's.
import { closeSync, openSync, writeSync } from 'node:fs';
import { UserError } from './errors.ts';
import type { SecretRegistry } from './secrets/registry.ts';

export type LogLevel = 1 | 2 | 3;

export interface LogOptions {
  /** How many -v were given (0: no verbose lines on the stream; more than 3 counts as 3). */
  verbosity: number;
  /** --log-file FILE, or MXPLAY_LOG: appended to, at max(verbosity, 1). Empty or undefined: no file. */
  file?: string | undefined;
  /** The run's secrets: every line is masked through it as it is written. */
  secrets: SecretRegistry;
  /** Where verbose lines go: process.stderr unless given (tests). */
  stream?: NodeJS.WritableStream;
}

interface LogState {
  streamLevel: number;
  fileLevel: number;
  secrets: SecretRegistry;
  stream: NodeJS.WritableStream;
  fd?: number;
  file?: string;
}

let state: LogState | undefined;

const clamp = (n: number) => Math.max(0, Math.min(3, Math.floor(Number.isFinite(n) ? n : 0)));

/**
 * Sets up this process's log. Opens the log file for appending (created 0600) at once: a file
 * that cannot be opened is a UserError naming it, raised before any host is contacted. Calling it
 * again replaces the previous set-up (closing its file).
 */
export function configureLog(o: LogOptions): void {
  closeLog();
  const verbosity = clamp(o.verbosity);
  const next: LogState = { streamLevel: verbosity, fileLevel: 0, secrets: o.secrets, stream: o.stream ?? process.stderr };
  if (o.file) {
    try {
      next.fd = openSync(o.file, 'a', 0o600);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why: Record<string, string> = {
        ENOENT: 'its folder does not exist',
        EACCES: 'permission denied',
        EISDIR: 'it is a folder',
        ENOTDIR: 'a part of its path is not a folder',
        EROFS: 'read-only file system',
      };
      throw new UserError(`cannot open the log file for appending: ${(err.code && why[err.code]) ?? err.message}`, { file: o.file });
    }
    next.file = o.file;
    next.fileLevel = Math.max(verbosity, 1);
  }
  state = next;
  if (next.fd !== undefined) writeFile(next, `mxplay started (pid ${process.pid}, verbosity ${verbosity})`, undefined);
}

/** The -v count lines are shown on stderr at (0 when none, or not configured). */
export function verbosity(): number {
  return state?.streamLevel ?? 0;
}

/** Whether a line of this level goes anywhere (stderr or the log file): for work done only to log. */
export function logs(level: LogLevel): boolean {
  return !!state && (level <= state.streamLevel || level <= state.fileLevel);
}

function hostPrefix(host: string | undefined): string {
  return host === undefined ? '' : `[${host}] `;
}

/** Each line of a message with the prefix; continuation lines marked "| " so a script reads as one block. */
function lines(prefix: string, text: string): string {
  const [first, ...rest] = text.replace(/\n+$/, '').split('\n');
  return [`${prefix}${first}`, ...rest.map((l) => `${prefix}| ${l}`)].join('\n') + '\n';
}

/** `masked`: the message already through the registry (masked whole, so a secret of several lines is found as a block). */
function writeFile(s: LogState, masked: string, host: string | undefined): void {
  if (s.fd === undefined) return;
  try {
    writeSync(s.fd, lines(`${new Date().toISOString()} ${hostPrefix(host)}`, masked));
  } catch (e) {
    // A full disk or a vanished mount must not fail the run: say so once, keep going without the file.
    const fd = s.fd;
    delete s.fd;
    s.fileLevel = 0;
    try {
      closeSync(fd);
    } catch {
      /* already gone */
    }
    s.stream.write(s.secrets.mask(`warning: cannot write to the log file ${s.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; no more lines are written to it\n`));
  }
}

/**
 * A verbose line (or block: a message of several lines) about `host` (undefined: about the run).
 * `message` may be a function, called only when the level is shown somewhere (and then once):
 * costly messages (scripts) cost nothing when they are not wanted.
 */
export function verbose(level: LogLevel, host: string | undefined, message: string | (() => string)): void {
  const s = state;
  if (!s) return;
  const toStream = level <= s.streamLevel;
  const toFile = level <= s.fileLevel && s.fd !== undefined;
  if (!toStream && !toFile) return;
  let text: string;
  try {
    text = typeof message === 'function' ? message() : message;
  } catch (e) {
    text = `(this log line could not be made: ${(e as Error).message})`;
  }
  const masked = s.secrets.mask(text);
  if (toStream) s.stream.write(lines(hostPrefix(host), masked));
  if (toFile) writeFile(s, masked, host);
}

/** Seconds since `t0` (Date.now()), for timings: "0.123s". */
export function since(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(3)}s`;
}

/** Closes the log file (nothing is buffered: every line is written when logged). Idempotent; verbose() does nothing after it. */
export function closeLog(): void {
  const s = state;
  state = undefined;
  if (s?.fd !== undefined) {
    try {
      closeSync(s.fd);
    } catch {
      /* already closed */
    }
  }
}
