// A lab command that waits for another one's lock says so, and for whom: the holder's pid, its
// command line, since when, and the test run it works for. Real processes hold the lock here.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeCommand, readHolder, waitMessage, withLock } from '../../lab/lock.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];

function lockPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'mxp-lock-'));
  dirs.push(d);
  return join(d, 'lab.lock');
}

/** A process that sleeps, with `marker` in its argv, holding `lockFile` the way withLock does. */
function holder(lockFile: string, marker: string, env: Record<string, string> = {}): ChildProcess {
  // Not the owner of the test run these tests may run in (npm test sets MXPLAY_LAB_OWNER): only the one given.
  const { MXPLAY_LAB_OWNER: _inherited, ...base } = process.env;
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', marker], { stdio: 'ignore', env: { ...base, ...env } });
  children.push(child);
  writeFileSync(lockFile, `${child.pid}\n`);
  return child;
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('describeCommand', () => {
  it('reads a tsx command as typed: no node binary, no loader flags, packages by name, paths relative', () => {
    const argv = [
      '/usr/bin/node',
      '--require', '/work/main/node_modules/tsx/dist/preflight.cjs',
      '--import', 'file:///work/main/node_modules/tsx/dist/loader.mjs',
      '/work/main/test/lab/cli.ts', 'up', '--hosts', '3',
    ];
    expect(describeCommand(argv, '/work/main')).toBe('tsx test/lab/cli.ts up --hosts 3');
  });

  it('names a vitest worker and a scoped package by their package; keeps other words; cuts at 160 characters', () => {
    expect(describeCommand(['node', '/w/node_modules/vitest/dist/workers/forks.js'], '/w')).toBe('vitest');
    expect(describeCommand(['/usr/bin/nodejs', '--import=/w/node_modules/@scope/pkg/x.js', 'run'], '/w')).toBe('@scope/pkg run');
    expect(describeCommand(['npm', 'run', 'lab', '--', 'up'], '/w')).toBe('npm run lab -- up');
    const long = describeCommand(['sh', '-c', 'x'.repeat(300)]);
    expect(long).toHaveLength(160);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('waitMessage', () => {
  const now = new Date(2026, 0, 2, 12, 0, 45);
  const since = new Date(2026, 0, 2, 12, 0, 3);

  it('names the holder: pid, command, since when and for how long', () => {
    const m = waitMessage('/var/lib/mxplay-lab/lab.lock', { pid: 4242, since, argv: ['npm', 'run', 'lab', '--', 'up'] }, 1_000, now, 1);
    expect(m).toBe('waiting for /var/lib/mxplay-lab/lab.lock: held since 12:00:03 (42 s ago) by pid 4242 (npm run lab -- up)');
  });

  it('says how long it has waited when it repeats, and names the test run a worker holds it for', () => {
    const m = waitMessage(
      '/x/lab.lock',
      { pid: 4242, since: new Date(now.getTime() - 150_000), argv: ['node', '/w/node_modules/vitest/dist/workers/forks.js'], run: { pid: 4000, argv: ['node', '/w/node_modules/vitest/vitest.mjs', 'run', 'test/e2e/proxy.e2e.test.ts'] } },
      31_000, now, 1,
    );
    expect(m).toMatch(/^still waiting \(31 s\) for \/x\/lab\.lock: held since 11:58:15 \(2 min 30 s ago\) by pid 4242 \(vitest\), for test run pid 4000 \(vitest run test\/e2e\/proxy\.e2e\.test\.ts\)$/);
  });

  it('covers the moments between holders, a holder gone, and a lock held by another task of this process', () => {
    expect(waitMessage('/x/l', undefined, 1_000, now)).toBe('waiting for /x/l: just released');
    expect(waitMessage('/x/l', { pid: 0, since }, 1_000, now)).toBe('waiting for /x/l: a process is just taking it');
    expect(waitMessage('/x/l', { pid: 7, since }, 1_000, now)).toContain('by pid 7 (exited: its lock is taken over)');
    expect(waitMessage('/x/l', { pid: 7, since, argv: ['x'] }, 1_000, now, 7)).toContain('by pid 7 (this process: another of its tasks holds it) (x)');
  });
});

describe('readHolder', () => {
  it('reads pid from the file, command from /proc, since from the mtime, and the test run from MXPLAY_LAB_OWNER', async () => {
    const lock = lockPath();
    expect(await readHolder(lock)).toBeUndefined();
    const child = holder(lock, 'mxp-lock-holder-a', { MXPLAY_LAB_OWNER: `run:${process.pid}` });
    const when = new Date(Date.now() - 90_000);
    utimesSync(lock, when, when);
    await new Promise((r) => setTimeout(r, 100)); // its exec is through
    const h = await readHolder(lock);
    expect(h?.pid).toBe(child.pid);
    expect(h?.argv).toContain('mxp-lock-holder-a');
    expect(Math.abs(h!.since!.getTime() - when.getTime())).toBeLessThan(1000);
    expect(h?.run?.pid).toBe(process.pid);
    expect(h?.run?.argv?.length).toBeGreaterThan(0);
  });

  it('gives no test run when the holder is the run itself or has no owner', async () => {
    const lock = lockPath();
    const child = holder(lock, 'mxp-lock-holder-b');
    await new Promise((r) => setTimeout(r, 100));
    const h = await readHolder(lock);
    expect(h?.pid).toBe(child.pid);
    expect(h?.run).toBeUndefined();
  });
});

describe('withLock while another process holds the lock', () => {
  it('reports once when the wait starts, again while it lasts, and when it gets the lock', async () => {
    const lock = lockPath();
    const child = holder(lock, 'mxp-lock-holder-c');
    await new Promise((r) => setTimeout(r, 100));
    const lines: string[] = [];
    setTimeout(() => child.kill('SIGKILL'), 700);
    const t0 = Date.now();
    const got = await withLock(lock, async () => 'ran', { report: (m) => lines.push(m), firstReportMs: 100, reportEveryMs: 250 });
    expect(got).toBe('ran');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    const waits = lines.filter((l) => l.includes('waiting'));
    // at ~100 ms, ~350 ms, ~600 ms: not one per poll (every 50 ms)
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits.length).toBeLessThanOrEqual(4);
    expect(waits[0]).toMatch(new RegExp(`^waiting for ${lock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: held since \\d\\d:\\d\\d:\\d\\d \\(\\d+ s ago\\) by pid ${child.pid} \\(-e .*mxp-lock-holder-c\\)$`));
    expect(lines.at(-1)).toMatch(/^got .*lab\.lock after \d+ s$/);
    expect(existsSync(lock)).toBe(false);
  });

  it('says nothing when the lock is free or the wait is short', async () => {
    const lock = lockPath();
    const lines: string[] = [];
    await withLock(lock, async () => {}, { report: (m) => lines.push(m) });
    const child = holder(lock, 'mxp-lock-holder-d');
    setTimeout(() => child.kill('SIGKILL'), 200);
    await withLock(lock, async () => {}, { report: (m) => lines.push(m) });
    expect(lines).toEqual([]);
  });

  it('says nothing while another task of this same process holds it (hosts stopped in parallel)', async () => {
    const lock = lockPath();
    const lines: string[] = [];
    let release!: () => void;
    const first = withLock(lock, () => new Promise<void>((r) => (release = r)), { report: (m) => lines.push(m) });
    const second = withLock(lock, async () => 'second', { report: (m) => lines.push(m), firstReportMs: 50, reportEveryMs: 50 });
    setTimeout(() => release(), 400);
    await first;
    expect(await second).toBe('second');
    expect(lines).toEqual([]);
  });

  it('gives up with the holder named', async () => {
    const lock = lockPath();
    const child = holder(lock, 'mxp-lock-holder-e');
    await new Promise((r) => setTimeout(r, 100));
    await expect(withLock(lock, async () => {}, { report: () => {}, giveUpMs: 200 })).rejects.toThrow(
      new RegExp(`by pid ${child.pid} .*mxp-lock-holder-e.*gave up after 0 s: remove .*lab\\.lock if no lab command runs`),
    );
    expect(existsSync(lock)).toBe(true);
  });
});

describe('withLock on a fresh machine', () => {
  it('makes the folder the lock lives in (the lab state folder is not there before the first `lab up`)', async () => {
    const lock = join(lockPath(), '..', 'state', 'lab.lock');
    expect(await withLock(lock, async () => existsSync(lock))).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });
});
