// One plan, every output: run's text and --json, and the saved plan as written (json, markdown,
// text) and as `mxplay show` renders it again. All are made from the same records, so they must
// agree on every change, its action and summary, the '?' items, the handlers and the totals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAs } from '../../../src/cli/plan.ts';
import type { PlanHostView, PlanSummary } from '../../../src/plan-file/format.ts';
import { changeRecord, planSummary } from '../../../src/plan-file/make.ts';
import { RUN_FORMAT } from '../../../src/plan-file/formats.ts';
import { runReportSchema } from '../../../src/plan-file/run-format.ts';
import { c, setColour } from '../../../src/ui/color.ts';
import { planTotals, renderAppliedChange, renderPlanText } from '../../../src/ui/plan-text.ts';
import { b64, FORMER_SECRET, hs1, keyFile, pf, reg, runJson, runText, runViews, saved, SECRET, show, shown } from '../plan-file/one-plan.ts';

/** What every output must say of hs1. */
const WANT = {
  changes: [
    ['+', 'file /etc/app/new.conf', 'create (0644 root:root)'],
    ['~', 'file /etc/app/app.conf', 'content'],
    ['-', 'file /etc/app/old.conf', 'remove'],
    ['+', 'file /etc/app/app.key', 'create (0600 root:root)'],
    ['?', 'file /etc/app/data.conf', 'user app does not exist yet; known after file /etc/app/app.key'],
  ],
  handlers: ['restart app'],
  totals: ['Plan: 6 changes on 1 host, 1 host(s) failed or unreachable'],
};

/** Changes, handlers and totals read back from a text rendering (run's, or show's). */
function fromText(text: string) {
  const lines = text.split('\n');
  return {
    changes: lines.flatMap((l) => {
      const m = /^ {2}([-+~?]) (\S+ \S+) {2}\[app\] {2}(.*)$/.exec(l);
      return m ? [[m[1]!, m[2]!, m[3]!]] : [];
    }),
    handlers: lines.flatMap((l) => /^ {2}! handler (.*) {2}pending from an earlier run$/.exec(l)?.[1] ?? []),
    failed: lines.filter((l) => /^\S+ {2}(FAILED|UNREACHABLE)$/.test(l)),
    totals: lines.filter((l) => l.startsWith('Plan: ')),
  };
}

/** The same from markdown. */
function fromMarkdown(md: string) {
  const lines = md.split('\n');
  return {
    changes: lines.flatMap((l) => {
      const m = /^`([-+~?])` (\S+) `([^`]+)` \(app\): (.*)$/.exec(l);
      return m ? [[m[1]!, `${m[2]} ${m[3]}`, m[4]!]] : [];
    }),
    handlers: lines.flatMap((l) => /^`!` handler `(.*)`: pending from an earlier run$/.exec(l)?.[1] ?? []),
    failed: lines.filter((l) => /<summary>hs2 — unreachable<\/summary>/.test(l)),
    totals: lines.filter((l) => l.startsWith('Plan: ')),
  };
}

/** The same from a document's host records (run --json, the plan file). */
function fromRecords(hosts: PlanHostView[], summary: PlanSummary) {
  return {
    changes: hosts.flatMap((h) => h.changes.map((ch) => [ch.action, `${ch.type} ${ch.id}`, ch.summary])),
    handlers: hosts.flatMap((h) => h.pendingHandlers),
    failed: hosts.filter((h) => h.status !== 'planned').map((h) => `${h.host}  ${h.status.toUpperCase()}`),
    totals: [planTotals(summary)],
  };
}

describe('one plan, every output: the same changes, handlers, ? items and totals', () => {
  const runDoc = runReportSchema.parse(JSON.parse(runJson));
  const outputs: [string, ReturnType<typeof fromText>][] = [
    ['run text', fromText(runText)],
    ['run --json', fromRecords(runDoc.hosts, runDoc.summary)],
    ['plan file', fromRecords(JSON.parse(saved).hosts, JSON.parse(saved).summary)],
    ['plan --format markdown', fromMarkdown(renderAs(pf, 'markdown', false, reg))],
    ['plan --format text', fromText(renderAs(pf, 'text', false, reg))],
    ['show (text)', fromText(show('text'))],
    ['show --format markdown', fromMarkdown(show('markdown'))],
    ['show --format json', fromRecords(JSON.parse(show('json')).hosts, JSON.parse(show('json')).summary)],
  ];
  it.each(outputs)('%s', (_name, got) => {
    expect({ changes: got.changes, handlers: got.handlers, totals: got.totals }).toEqual(WANT);
    expect(got.failed).toHaveLength(1);
  });

  it("run's text is show's text after the line saying what the plan was made from", () => {
    expect(show('text')).toBe(`Plan of site.yml on inventory prod; made 2025-03-01T10:00:00.000Z by mxplay ${pf.mxplay}\n\n${runText}`);
  });

  it('hosts in inventory order, the one that could not be planned in its place', () => {
    expect(runText.split('\n').filter((l) => /^hs\d/.test(l))).toEqual(['hs1  6 changes', 'hs2  UNREACHABLE', 'hs3  no changes']);
    expect(runDoc.hosts.map((h) => [h.host, h.status])).toEqual([['hs1', 'planned'], ['hs2', 'unreachable'], ['hs3', 'planned']]);
  });

  it('run --json and the plan file hold the same change records; only run has the whole texts, only the plan the fingerprints', () => {
    const withoutTexts = runDoc.hosts.map((h) => ({ ...h, changes: h.changes.map(({ path: _p, before: _b, after: _a, ...ch }) => ch) }));
    const withoutFingerprints = shown.hosts.map(({ resources: _r, ...h }) => ({ ...h, changes: h.changes.map(({ content: _c, ...ch }) => ch) }));
    expect(withoutTexts).toEqual(withoutFingerprints);
    expect(runDoc.summary).toEqual(shown.summary);
    expect(runDoc.format).toBe(RUN_FORMAT);
    expect(runJson).not.toMatch(/[0-9a-f]{64}/);
  });

  it('the diff of the changed file is the same text in every output, the replaced secret masked on its line', () => {
    const diff = '--- /etc/app/app.conf\n+++ /etc/app/app.conf\n@@ -1,2 +1,2 @@\n-listen = 80\n-token = ********\n+listen = 8080\n+token = ********';
    expect(runDoc.hosts[0]!.changes[1]!.diff).toBe(diff);
    expect(shown.hosts[0]!.changes[1]!.diff).toBe(diff);
    expect(runText).toContain(diff.split('\n').map((l) => `      ${l}`).join('\n'));
    expect(show('markdown')).toContain('```diff\n' + diff + '\n```');
    expect(runDoc.hosts[0]!.changes[1]).toMatchObject({ path: '/etc/app/app.conf', before: 'listen = 80\ntoken = ********\n', after: 'listen = 8080\ntoken = ********\n' });
    expect(runDoc.hosts[0]!.changes[2]).toMatchObject({ action: '-', path: '/etc/app/old.conf', before: 'retired = yes\n', after: null });
  });

  it('the secret file is only said to change: no diff, no texts; the plan keeps its fingerprint', () => {
    const key = (hosts: PlanHostView[]) => hosts[0]!.changes[3]!;
    expect(key(runDoc.hosts)).toEqual({ action: '+', type: 'file', id: '/etc/app/app.key', role: 'app', summary: 'create (0600 root:root)', secret: true, path: '/etc/app/app.key' });
    expect(key(shown.hosts).content).toMatch(/^[0-9a-f]{64}$/);
    for (const text of [runText, show('text')]) expect(text).toContain('  + file /etc/app/app.key  [app]  create (0600 root:root)\n      (secret content changes; not shown)\n');
    expect(show('markdown')).toContain('*(secret content changes; not shown)*');
  });

  it('no output holds the secret or the unknown former one', () => {
    for (const text of [runText, runJson, saved, ...(['json', 'markdown', 'text'] as const).map(show)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(FORMER_SECRET);
      expect(text).not.toContain(b64(keyFile).slice(0, 20));
    }
  });
});

describe('run --diff: a change as it is applied', () => {
  const [, changed, , key] = hs1().items;
  it("prints the record's diff under the host and resource", () => {
    expect(renderAppliedChange('hs1', changeRecord(changed!, reg), false, reg)).toBe(
      '[hs1] file /etc/app/app.conf\n--- /etc/app/app.conf\n+++ /etc/app/app.conf\n@@ -1,2 +1,2 @@\n-listen = 80\n-token = ********\n+listen = 8080\n+token = ********\n',
    );
  });
  it('says only that a secret file changes', () => {
    expect(renderAppliedChange('hs1', changeRecord(key!, reg), false, reg)).toBe('[hs1] file /etc/app/app.key\n(secret content changes; not shown)\n');
  });
  // Colour as on a terminal (the tests' stdout is none).
  beforeAll(() => setColour(true));
  afterAll(() => setColour(!!process.stdout.isTTY && !process.env.NO_COLOR));
  it('colours diff lines and action symbols the same way in every output', () => {
    const coloured = renderPlanText(runViews, planSummary(runViews), true, reg);
    expect(coloured).toContain(`  ${c.yellow('~')} file /etc/app/app.conf`);
    expect(coloured).toContain(`      ${c.red('-listen = 80')}`);
    expect(renderAppliedChange('hs1', changeRecord(changed!, reg), true, reg)).toContain(c.green('+listen = 8080'));
  });
});
