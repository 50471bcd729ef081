// Processes as the bench runs them: spawned, timed from fork to exit, output kept.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH = dirname(fileURLToPath(import.meta.url));

export interface Proc {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface SpawnOpts {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** called with the child's pid once it is spawned */
  onSpawn?: (pid: number) => void;
}

/** Spawns and waits: the time is what the user waits for, from fork to exit. */
export function timed(cmd: string, args: string[], opts: SpawnOpts = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? BENCH, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, ms });
    });
  });
}

export async function must(cmd: string, args: string[], opts: SpawnOpts = {}): Promise<Proc> {
  const r = await timed(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}\n${tail(r.stderr + r.stdout)}`);
  return r;
}

export const tail = (s: string, n = 25) => s.trim().split('\n').slice(-n).join('\n');
export const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
export const uptime = () => loadavg().map((l) => l.toFixed(2)).join(', ');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A measured run that failed: never counted as a (fast) sample. */
export class RunFailed extends Error {}
