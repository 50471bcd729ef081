// Changes confirmed over a new connection (Change.confirm, used by the firewall role): the engine
// opens it right after the change applies and before anything after it runs, runs the confirmation
// there, and fails the host naming the change when either fails. Over real shells (/bin/sh).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostRun } from '../../../src/engine/host.ts';
import { applyAll, type Session } from '../../../src/engine/run.ts';
import type { HostWork } from '../../../src/engine/work.ts';
import type { Resource } from '../../../src/resources/types.ts';
import type { Connection } from '../../../src/transport/connection.ts';
import { shellConnection, tempDir } from '../helpers.ts';
import { playWork } from './run-host.ts';

const step = (id: string, log: string, confirm?: { script: string; timeoutMs: number; failed: string }): Resource => ({
  type: 'step', id, probe: `echo '{}'`, notify: [], tags: [],
  plan: () => ({ action: '+', summary: `do ${id}`, script: `echo ${id} >> ${log}`, ...(confirm ? { confirm } : {}) }),
});

async function run(resources: (log: string) => Resource[], reconnect: (log: string, state: string) => (ms: number) => Promise<Connection>) {
  const dir = tempDir();
  const log = join(dir, 'log');
  const state = tempDir('mxp-state-');
  const plays = [playWork(0, resources(log))];
  const w: HostWork = {
    host: { name: 'h1', groups: ['all'], vars: {}, origins: {} },
    params: { name: 'h1', connection: 'local', address: 'h1', port: 22, user: 'root', become: false, knownHostsFile: '', hostKeyChecking: 'strict', connectTimeoutMs: 1000 },
    plays,
  };
  const calls: number[] = [];
  const open = reconnect(log, state);
  const hostRun = new HostRun(w, shellConnection('h1', state), (ms) => { calls.push(ms); return open(ms); });
  const s: Session = { runs: new Map([['h1', hostRun]]), plans: new Map(), results: new Map(), started: new Map([['h1', Date.now()]]) };
  s.plans.set('h1', await hostRun.plan());
  await applyAll({ file: 'site.yml', dir, plays: plays.map((p) => p.play), secretValues: [] }, [w], s, 1, { phase() {}, event() {}, hostDone() {} });
  const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { result: s.results.get('h1')!, lines, calls };
}

const confirm = (log: string, extra = '') => ({ script: `${extra}echo confirmed >> ${log}`, timeoutMs: 4321, failed: 'The host undoes it by itself.' });

describe('Change.confirm', () => {
  it('runs over a new connection right after its change, before the next change; the connection gets its timeout', async () => {
    const r = await run((log) => [step('a', log, confirm(log)), step('b', log)], (_log, state) => async () => shellConnection('h1', state));
    expect(r.result.status).toBe('changed');
    expect(r.result.changed).toBe(2);
    expect(r.lines).toEqual(['a', 'confirmed', 'b']);
    expect(r.calls).toEqual([4321]);
  });

  it('a new connection that fails: the host fails naming the change and the reason, and nothing after it runs', async () => {
    const r = await run((log) => [step('a', log, confirm(log)), step('b', log)], () => async () => { throw new Error('cannot connect to 10.0.0.5:22: timed out after 4.321s'); });
    expect(r.result.status).toBe('failed');
    expect(r.result.message).toMatch(/^step a \(do a\): a new connection through it failed after \d+\.\d+s: cannot connect to 10\.0\.0\.5:22: timed out after 4\.321s\. The host undoes it by itself\.$/);
    expect(r.lines).toEqual(['a']);
  });

  it('a confirmation that exits non-zero fails the host with its words', async () => {
    const r = await run((log) => [step('a', log, confirm(log, 'echo too late >&2; exit 3\n')), step('b', log)], (_l, state) => async () => shellConnection('h1', state));
    expect(r.result.status).toBe('failed');
    expect(r.result.message).toContain('the confirmation exited 3: too late. The host undoes it by itself.');
    expect(r.lines).toEqual(['a']);
  });

  it('changes without confirm open no connection', async () => {
    const r = await run((log) => [step('a', log), step('b', log)], () => async () => { throw new Error('not expected'); });
    expect(r.result.status).toBe('changed');
    expect(r.lines).toEqual(['a', 'b']);
    expect(r.calls).toEqual([]);
  });
});
