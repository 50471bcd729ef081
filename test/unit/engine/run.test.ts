// applyAll's `serial` batches and max_fail_percentage, over real shells: each host's connection runs
// the generated scripts with /bin/sh, mxplay's state dir moved into a temp dir. Which hosts are
// applied, failed and skipped (never attempted), batch by batch and play by play.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyAll, type HostResult, type Session } from '../../../src/engine/run.ts';
import { HostRun } from '../../../src/engine/host.ts';
import { STATE_DIR } from '../../../src/engine/scripts.ts';
import type { HostWork } from '../../../src/engine/work.ts';
import type { Play } from '../../../src/playbook/playbook.ts';
import { command } from '../../../src/resources/command.ts';
import type { Connection } from '../../../src/transport/connection.ts';
import { play, shellConnection, tempDir } from '../helpers.ts';



/**
 * Hosts h1..hN in every given play; a host in `failing` fails its step; `only` limits a play to
 * some hosts. Each applied step appends "host play" to one shared log, in the order they run.
 */
async function runPlays(n: number, plays: Play[], failing: string[], only: Record<number, string[]> = {}, unreachable: string[] = []) {
  const dir = tempDir();
  const log = join(dir, 'applied');
  const s: Session = { runs: new Map(), plans: new Map(), results: new Map(), started: new Map() };
  const works: HostWork[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `h${i}`;
    const w: HostWork = {
      host: { name, groups: ['all'], vars: {}, origins: {} },
      params: { name, connection: 'local', address: name, port: 22, user: 'root', become: false, knownHostsFile: '', hostKeyChecking: 'strict', connectTimeoutMs: 1000 },
      plays: plays
        .filter((p) => !only[p.index] || only[p.index]!.includes(name))
        .map((p) => ({
          play: p,
          handlers: new Map(),
          items: [{ play: p.index, role: 'tasks', resource: command({ name: 'step', cmd: failing.includes(name) ? 'echo broken >&2; exit 3' : `echo ${name} ${p.index + 1} >> ${log}` }) }],
        })),
    };
    works.push(w);
    if (unreachable.includes(name)) {
      // What planAll leaves for a host it could not connect to: a result, no run, no plan.
      s.results.set(name, { host: name, status: 'unreachable', ok: 0, changed: 0, handlers: [], roundTrips: 0, seconds: 0, message: 'connection refused' });
      continue;
    }
    const run = new HostRun(w, shellConnection(name, tempDir('mxp-state-')));
    s.runs.set(name, run);
    s.plans.set(name, await run.plan());
  }
  await applyAll({ file: 'site.yml', dir, plays, secretValues: [] }, works, s, 10, { phase() {}, event() {}, hostDone() {} });
  const status = Object.fromEntries(works.map((w) => [w.host.name, s.results.get(w.host.name)!.status]));
  const applied = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status, applied, results: s.results };
}

describe('serial batches and max_fail_percentage', () => {
  it.each([
    {
      why: 'serial 1, no failure tolerated: the first failure stops the rest',
      n: 3, serial: 1, max: 0, failing: ['h2'],
      status: { h1: 'changed', h2: 'failed', h3: 'skipped' },
    },
    {
      why: 'serial 1, failing first host: nobody else is touched',
      n: 3, serial: 1, max: 0, failing: ['h1'],
      status: { h1: 'failed', h2: 'skipped', h3: 'skipped' },
    },
    {
      why: "serial '50%', 1 of 2 failed is 50%, not above max 50: the next batch runs",
      n: 4, serial: '50%', max: 50, failing: ['h1'],
      status: { h1: 'failed', h2: 'changed', h3: 'changed', h4: 'changed' },
    },
    {
      why: "serial '50%', 1 of 2 failed is above max 49: stops after the first batch",
      n: 4, serial: '50%', max: 49, failing: ['h2'],
      status: { h1: 'changed', h2: 'failed', h3: 'skipped', h4: 'skipped' },
    },
    {
      why: 'no serial, default max 100: every host is tried whatever fails',
      n: 3, serial: undefined, max: 100, failing: ['h1', 'h2'],
      status: { h1: 'failed', h2: 'failed', h3: 'changed' },
    },
  ] as const)('$why', async ({ n, serial, max, failing, status }) => {
    const r = await runPlays(n, [play(0, { serial, maxFailPercentage: max })], [...failing]);
    expect(r.status).toEqual(status);
    const changed = Object.entries(status).filter(([, st]) => st === 'changed').map(([h]) => `${h} 1`);
    expect([...r.applied].sort()).toEqual(changed.sort());
  });

  it.each([
    {
      why: 'serial 1, max 0, first host unreachable: the rolling change stops before touching anyone',
      serial: 1, max: 0, unreachable: ['h1'],
      status: { h1: 'unreachable', h2: 'skipped', h3: 'skipped', h4: 'skipped' },
    },
    {
      why: 'serial 2, max 49, one host of the second batch unreachable: the first batch runs, its partner too, then the run stops',
      serial: 2, max: 49, unreachable: ['h3'],
      status: { h1: 'changed', h2: 'changed', h3: 'unreachable', h4: 'changed' },
    },
    {
      why: 'serial 2, max 50: one unreachable host of two is tolerated and the batches keep their size',
      serial: 2, max: 50, unreachable: ['h1'],
      status: { h1: 'unreachable', h2: 'changed', h3: 'changed', h4: 'changed' },
    },
  ] as const)('$why', async ({ serial, max, unreachable, status }) => {
    const r = await runPlays(4, [play(0, { serial, maxFailPercentage: max })], [], {}, [...unreachable]);
    expect(r.status).toEqual(status);
  });

  it('an unreachable host counts once: a later play with max 0 still runs on the hosts that are up', async () => {
    const plays = [play(0, { maxFailPercentage: 50 }), play(1, { serial: 1, maxFailPercentage: 0 })];
    const r = await runPlays(2, plays, [], {}, ['h1']);
    expect(r.status).toEqual({ h1: 'unreachable', h2: 'changed' });
    expect(r.applied).toEqual(['h2 1', 'h2 2']);
  });

  it('batches run one after the other: with serial 1 the hosts are applied in inventory order', async () => {
    const r = await runPlays(4, [play(0, { serial: 1 })], []);
    expect(r.applied).toEqual(['h1 1', 'h2 1', 'h3 1', 'h4 1']);
  });

  it('a skipped host is told why, naming the play and the limit', async () => {
    const r = await runPlays(2, [play(0, { serial: 1, maxFailPercentage: 0, name: 'rolling restart' })], ['h1']);
    expect((r.results.get('h2') as HostResult).message).toBe(
      'not run: the run stopped after 1 of 1 host of a batch of "rolling restart" failed (max_fail_percentage 0)',
    );
  });

  it('a stop ends the run: later plays start on no host, not even on hosts that took no part in the stopped play', async () => {
    const plays = [play(0, { serial: 1, maxFailPercentage: 0 }), play(1)];
    const r = await runPlays(3, plays, ['h2'], { 0: ['h1', 'h2'] });
    expect(r.status).toEqual({ h1: 'skipped', h2: 'failed', h3: 'skipped' });
    expect(r.applied).toEqual(['h1 1']);
  });
});
