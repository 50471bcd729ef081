import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HostPlan, PlannedItem } from '../../../src/engine/plan.ts';
import type { HostResult } from '../../../src/engine/run.ts';
import { fingerprint } from '../../../src/plan-file/digest.ts';
import { changeRecord, failedView, hostRecord, hostRecords, hostView, hostViewMakers, hostViews, makeRunReport, planSummary, runReportJson, viewOf, writeRunReport } from '../../../src/plan-file/make.ts';
import { runReportSchema } from '../../../src/plan-file/run-format.ts';
import { command } from '../../../src/resources/command.ts';
import { file } from '../../../src/resources/file.ts';
import { service } from '../../../src/resources/service.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { pacedWriter } from '../../../src/ui/paced-write.ts';
import { item } from '../helpers.ts';

// The records every output of a plan is made of, built from hand-made planned items.
const reg = new SecretRegistry();
const SECRET = 'records-secret-3f7a0';
reg.add(SECRET);

const conf = item(file({ path: '/etc/a.conf', content: 'x' }), 'app');
const key = item(file({ path: '/etc/a.key', content: SECRET, sensitive: true }), 'app');
const svc = item(service({ name: 'app' }), 'app');
const cmd = item(command({ cmd: 'init', creates: '/done' }), 'app');

const changed: PlannedItem = {
  item: conf, status: 'change', state: { kind: 'file' },
  change: { action: '~', summary: 'content', script: 's1', diff: { path: '/etc/a.conf', before: 'auth = old-value-1234\n', after: `auth = ${SECRET}\n` } },
};
const secretFile: PlannedItem = { item: key, status: 'change', state: { kind: 'none' }, change: { action: '+', summary: 'create', script: 's2', diff: { path: '/etc/a.key', before: null, after: SECRET, hidden: true } } };
const removedSecret: PlannedItem = { item: key, status: 'change', state: { kind: 'file' }, change: { action: '-', summary: 'remove', script: 's3', diff: { path: '/etc/a.key', before: SECRET, after: null, hidden: true } } };
const deferred: PlannedItem = { item: svc, status: 'deferred', reason: 'unit app not found; known after apt app' };
const ok: PlannedItem = { item: svc, status: 'ok', state: { ActiveState: 'active' } };
const guarded: PlannedItem = { item: cmd, status: 'change', state: { done: false }, change: { action: '+', summary: 'run init', script: 'init', guard: '[ -e /done ]' } };

const plan = (host: string, items: PlannedItem[], pendingHandlers: string[] = []): HostPlan => ({ host, items, pendingHandlers, errors: [] });
const failure = (host: string, status: HostResult['status'], message?: string): HostResult => ({
  host, status, ok: 0, changed: 0, handlers: [], roundTrips: 0, seconds: 1, ...(message ? { message } : {}),
});

describe('changeRecord', () => {
  it('a change: its action, summary and masked diff', () => {
    expect(changeRecord(changed, reg)).toEqual({
      action: '~', type: 'file', id: '/etc/a.conf', role: 'app', summary: 'content',
      diff: '--- /etc/a.conf\n+++ /etc/a.conf\n@@ -1,1 +1,1 @@\n-auth = ********\n+auth = ********',
    });
  });

  it('a deferred item: ?, with what it waits for', () => {
    expect(changeRecord(deferred, reg)).toEqual({ action: '?', type: 'service', id: 'app', role: 'app', summary: 'unit app not found; known after apt app' });
  });

  it('run --json: the whole texts, masked; a secret file only by its path', () => {
    expect(changeRecord(changed, reg, { texts: true })).toMatchObject({ path: '/etc/a.conf', before: 'auth = ********\n', after: 'auth = ********\n' });
    const hidden = changeRecord(secretFile, reg, { texts: true });
    expect(hidden).toEqual({ action: '+', type: 'file', id: '/etc/a.key', role: 'app', summary: 'create', secret: true, path: '/etc/a.key' });
    expect(changeRecord(changed, reg)).not.toHaveProperty('path');
    expect(changeRecord(deferred, reg, { texts: true })).not.toHaveProperty('path');
  });

  it('the plan file: a secret file by the fingerprint of its new content; none for one removed', () => {
    expect(changeRecord(secretFile, reg, { fingerprints: true })).toMatchObject({ secret: true, content: fingerprint(SECRET, reg) });
    expect(changeRecord(secretFile, reg)).not.toHaveProperty('content');
    expect(changeRecord(removedSecret, reg, { fingerprints: true })).toEqual({ action: '-', type: 'file', id: '/etc/a.key', role: 'app', summary: 'remove', secret: true });
  });
});

describe('host records', () => {
  it('a view lists what changes (or may), not what is ok', () => {
    const v = hostView(plan('h1', [ok, changed, deferred], ['reload app']), reg);
    expect(v).toMatchObject({ host: 'h1', status: 'planned', pendingHandlers: ['reload app'] });
    expect(v.changes.map((c) => c.action)).toEqual(['~', '?']);
  });

  it('the plan file keeps every resource, with fingerprints of state and change (its guard too)', () => {
    const r = hostRecord(plan('h1', [ok, changed, deferred, guarded]), reg);
    expect(r.resources.map((x) => x.planned)).toEqual(['ok', '~', '?', '+']);
    expect(r.resources[0]).toEqual({ play: 0, role: 'app', type: 'service', id: 'app', state: fingerprint({ ActiveState: 'active' }, reg), planned: 'ok' });
    expect(r.resources[1]!.change).toBe(fingerprint({ action: '~', summary: 'content', script: 's1' }, reg));
    expect(r.resources[3]!.change).toBe(fingerprint({ action: '+', summary: 'run init', script: 'init', guard: '[ -e /done ]' }, reg));
    expect(r.resources[2]).not.toHaveProperty('change');
    expect(r.changes.map((c) => c.action)).toEqual(['~', '?', '+']);
  });

  it('a host that failed or was unreachable: why, and nothing to do', () => {
    expect(failedView(failure('h2', 'unreachable', 'connect ETIMEDOUT'))).toEqual({ host: 'h2', status: 'unreachable', message: 'connect ETIMEDOUT', pendingHandlers: [], changes: [] });
    expect(failedView(failure('h3', 'failed'))).toEqual({ host: 'h3', status: 'failed', pendingHandlers: [], changes: [] });
  });

  it("in the run's host order, a failure over a plan, a host with neither left out", () => {
    const plans = [plan('b', [changed]), plan('a', []), plan('c', [deferred])];
    const failed = [failure('c', 'failed', 'probe failed')];
    const views = hostViews(['a', 'b', 'c', 'd'], plans, failed, reg);
    expect(views.map((v) => [v.host, v.status, v.changes.length])).toEqual([['a', 'planned', 0], ['b', 'planned', 1], ['c', 'failed', 0]]);
    const records = hostRecords(['c', 'a'], plans, failed, reg);
    expect(records).toEqual([
      { host: 'c', status: 'failed', message: 'probe failed', pendingHandlers: [], changes: [], resources: [] },
      { host: 'a', status: 'planned', pendingHandlers: [], changes: [], resources: [] },
    ]);
  });

  it('a saved host viewed again: without resources and fingerprints', () => {
    const r = hostRecord(plan('h1', [secretFile]), reg);
    expect(r.changes[0]).toHaveProperty('content');
    const v = viewOf(r);
    expect(v).not.toHaveProperty('resources');
    expect(v.changes).toEqual([{ action: '+', type: 'file', id: '/etc/a.key', role: 'app', summary: 'create', secret: true }]);
  });

  it('the totals: changes and pending handlers of planned hosts; failed hosts counted apart', () => {
    const views = [hostView(plan('a', [changed], ['h']), reg), hostView(plan('b', []), reg), failedView(failure('c', 'unreachable'))];
    expect(planSummary(views)).toEqual({ changes: 2, hosts: 1, failed: 1 });
  });
});

describe('makeRunReport', () => {
  const hosts = [hostView(plan('a', [changed]), reg)];
  const verify = [{ host: 'a', role: 'app', what: 'health', where: `https://a/?t=${SECRET}`, ok: true, detail: '200', ms: 5 }];

  it('refusals and verify results when there are, every string masked, valid by its schema', () => {
    const r = makeRunReport({ check: false, applied: false, refused: ['a: file /etc/a.conf changed'], hosts, results: [], verify }, reg);
    expect(r).toMatchObject({ check: false, applied: false, refused: ['a: file /etc/a.conf changed'], verify: [{ where: 'https://a/?t=********' }] });
    expect(runReportSchema.parse(r)).toEqual(r);
  });

  it('neither key when there are none', () => {
    const r = makeRunReport({ check: true, applied: false, hosts, results: [] }, reg);
    expect(Object.keys(r)).not.toContain('refused');
    expect(Object.keys(r)).not.toContain('verify');
  });
});

describe('writeRunReport: the report written a host at a time', () => {
  // A host name and a result message that hold JSON's own punctuation and the secret, and a
  // text with line breaks (escaped in JSON: a written host never spans what it should not).
  const plans = [plan('a', [changed, secretFile, deferred, guarded], ['h']), plan('b "}, {', [removedSecret]), plan('c', [])];
  const failed = [failure('d\n],', 'unreachable', `ssh to d failed: ${SECRET}`)];
  const names = ['a', 'b "}, {', 'c', 'd\n],'];
  const results = [{ ...failure('a', 'changed'), changed: 2 }, failure('d\n],', 'unreachable', `cannot connect: ${SECRET}`)];

  it.each([
    ['several hosts, one failed', names],
    ['one host', ['c']],
    ['no host', []],
  ])('%s: the same text as the whole report printed at once', async (_what, hostNames) => {
    const parts = { check: false, applied: true, results, verify: [{ host: 'a', role: 'app', what: 'health', where: `https://a/?t=${SECRET}`, ok: true, detail: '200', ms: 5 }] };
    const whole = runReportJson(makeRunReport({ ...parts, hosts: hostViews(hostNames, plans, failed, reg, { texts: true }) }, reg), reg);
    let written = '';
    await writeRunReport({ ...parts, summary: planSummary(hostViews(hostNames, plans, failed, reg, { brief: true })), hosts: hostViewMakers(hostNames, plans, failed, reg, { texts: true }) }, reg, (s) => {
      written += s;
    });
    expect(written).toBe(whole);
    expect(written).not.toContain(SECRET);
    expect(runReportSchema.parse(JSON.parse(written)).hosts.map((h) => h.host)).toEqual(hostNames);
  });

  it('each host made when it is written, not before', async () => {
    const made: string[] = [];
    const makers = hostViewMakers(names, plans, failed, reg, { texts: true }).map((make, i) => () => (made.push(names[i]!), make()));
    const seenAtWrite: number[] = [];
    await writeRunReport({ check: true, applied: false, summary: { changes: 0, hosts: 0, failed: 0 }, hosts: makers, results: [] }, reg, () => {
      seenAtWrite.push(made.length);
    });
    expect(made).toEqual(names);
    // the first piece (before the hosts) was written before any host was made
    expect(seenAtWrite[0]).toBe(0);
  });

  it('a reader that lags (a full pipe): the next host is made only once the last one was taken', async () => {
    const made: string[] = [];
    const makers = hostViewMakers(names, plans, failed, reg, { texts: true }).map((make, i) => () => (made.push(names[i]!), make()));
    // Each write waits until the test lets it go: a reader that is always behind.
    const waiting: (() => void)[] = [];
    const madeAtWrite: number[] = [];
    const writing = writeRunReport({ check: true, applied: false, summary: { changes: 0, hosts: 0, failed: 0 }, hosts: makers, results: [] }, reg, () => {
      madeAtWrite.push(made.length);
      return new Promise<void>((r) => waiting.push(r));
    });
    for (let turn = 0; turn < 50 && waiting.length; turn++) {
      await new Promise((r) => setImmediate(r));
      // one piece written per piece taken, and nothing more made while the last one waits
      expect(madeAtWrite).toHaveLength(turn + 1);
      expect(made.length).toBe(madeAtWrite.at(-1));
      waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    // head, '"hosts": [', one piece per host, ']', the tail: each host made just before its piece
    expect(madeAtWrite).toEqual([0, 0, 1, 2, 3, 4, 4, 4]);
  });

  it('pacedWriter: a promise while the stream is full, settled once it drained', async () => {
    let done: (() => void) | undefined;
    const slow = new Writable({ highWaterMark: 1, write: (_chunk, _enc, cb) => void (done = cb) });
    const write = pacedWriter(slow);
    let settled = false;
    const p = write('abc')!.then(() => (settled = true));
    expect(p).toBeInstanceOf(Promise);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    done!();
    await p;
    expect(settled).toBe(true);
    expect(pacedWriter(new Writable({ write: (_c, _e, cb) => cb() }))('x')).toBeUndefined();
  });

  it('brief views: the counts of the full ones, without their diffs', () => {
    const brief = hostViews(names, plans, failed, reg, { brief: true });
    expect(planSummary(brief)).toEqual(planSummary(hostViews(names, plans, failed, reg)));
    expect(brief.flatMap((h) => h.changes).some((c) => 'diff' in c)).toBe(false);
  });
});
