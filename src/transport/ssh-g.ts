// Runs `ssh -G` for ssh-config.ts: the calls asked before the caller next yields are started
// together by one shell, each in the background, their outputs in a private temporary folder.
// Why: starting a program from Node forks the whole Node process (about 10 ms at 80 MB here, more
// on a busy machine); a run over 50 hosts asked for 50 of them, about half a second of the one
// thread everything else waits on. The shell's own forks are small.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { q } from '../resources/sh.ts';

export interface SshGResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Why it could not be run at all (not found, timed out); code is then -1. */
  error?: string;
}

/** Each call's limit, and the whole batch's. */
const TIMEOUT_MS = 20_000;

interface Call {
  ssh: string;
  args: string[];
  resolve: (r: SshGResult) => void;
}

let queued: Call[] = [];

/** `ssh args...` (stdin empty): its exit code and outputs. */
export function runSshG(ssh: string, args: string[]): Promise<SshGResult> {
  return new Promise((resolve) => {
    queued.push({ ssh, args, resolve });
    // Started as soon as the caller's synchronous code yields: the hosts' calls of one loop go together.
    if (queued.length === 1) queueMicrotask(flush);
  });
}

function flush(): void {
  const calls = queued;
  queued = [];
  if (calls.length === 1) runOne(calls[0]!);
  else runTogether(calls);
}

function exitCode(e: unknown): number {
  return e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0;
}

function runOne(c: Call): void {
  execFile(c.ssh, c.args, { encoding: 'utf8', timeout: TIMEOUT_MS }, (e, stdout, stderr) => {
    const code = exitCode(e);
    c.resolve({ code, stdout, stderr, ...(e && code === -1 ? { error: e.message } : {}) });
  }).stdin?.end();
}

/** One shell starts them all at once; each writes N.out, N.err and then N.rc (its exit code). */
function runTogether(calls: Call[]): void {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'mxplay-ssh-g-'));
  } catch {
    for (const c of calls) runOne(c); // no folder for their outputs: one by one
    return;
  }
  const script = [
    ...calls.map((c, i) => `( ${[c.ssh, ...c.args].map(q).join(' ')} </dev/null >${q(join(dir, `${i}.out`))} 2>${q(join(dir, `${i}.err`))}; echo $? >${q(join(dir, `${i}.rc`))} ) &`),
    'wait',
  ].join('\n');
  execFile('/bin/sh', ['-c', script], { timeout: TIMEOUT_MS }, (e) => {
    const read = (f: string) => {
      try {
        return readFileSync(join(dir, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    calls.forEach((c, i) => {
      const rc = read(`${i}.rc`);
      const stdout = read(`${i}.out`) ?? '';
      const stderr = read(`${i}.err`) ?? '';
      if (rc === undefined || !/^\d+\n?$/.test(rc)) c.resolve({ code: -1, stdout, stderr, error: e ? `ssh -G did not finish: ${e.message}` : 'ssh -G did not finish' });
      else c.resolve({ code: Number(rc), stdout, stderr });
    });
    rmSync(dir, { recursive: true, force: true });
  });
}
