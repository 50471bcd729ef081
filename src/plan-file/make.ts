import type { HostPlan, PlannedItem } from '../engine/plan.ts';
import type { HostResult } from '../engine/run.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import type { VerifyResult } from '../verify/run.ts';
import { diffText, fileTexts } from './diff-text.ts';
import { fingerprint } from './digest.ts';
import { MXPLAY_VERSION } from '../paths.ts';
import type { PlanChange, PlanFile, PlanHost, PlanHostView, PlanInputs, PlanResource, PlanSummary } from './format.ts';
import { PLAN_FORMAT, RUN_FORMAT } from './formats.ts';
import type { RunReport } from './run-format.ts';

// The one projection of a host's plan: every output (run's text and --json, the plan file, show,
// markdown) renders these records, so they cannot disagree on what a plan says.

/** What a record holds beyond what every output shows. */
export interface RecordDetail {
  /** The plan file: a secret file's content as a keyed fingerprint, for apply's check. */
  fingerprints?: boolean;
  /** run --json: each file's whole former and new texts, masked, for machines. */
  texts?: boolean;
  /** Without the diffs: what counts and summaries need (run --json's plan, before its report). */
  brief?: boolean;
}

const plannedAction = (p: PlannedItem): PlanResource['planned'] => (p.status === 'ok' ? 'ok' : p.status === 'deferred' ? '?' : p.change!.action);

/** One change of a host's plan (a deferred item is '?', with what it waits for as its summary). */
export function changeRecord(p: PlannedItem, secrets: SecretRegistry, detail: RecordDetail = {}): PlanChange {
  const r = p.item.resource;
  const d = p.change?.diff;
  const shown = d && !detail.brief ? diffText(d, secrets) : '';
  return {
    action: plannedAction(p) as PlanChange['action'],
    type: r.type,
    id: r.id,
    role: p.item.role,
    summary: p.status === 'deferred' ? p.reason! : p.change!.summary,
    ...(d?.hidden ? { secret: true as const } : {}),
    ...(d?.hidden && d.after !== null && detail.fingerprints ? { content: fingerprint(d.after, secrets) } : {}),
    ...(shown ? { diff: shown } : {}),
    ...(d && detail.texts ? { path: d.path, ...(d.hidden ? {} : fileTexts(d, secrets)) } : {}),
  };
}

/** A planned host as every output shows it: its changes and pending handlers. */
export function hostView(plan: HostPlan, secrets: SecretRegistry, detail: RecordDetail = {}): PlanHostView {
  return {
    host: plan.host,
    status: 'planned',
    pendingHandlers: plan.pendingHandlers,
    changes: plan.items.filter((p) => p.status !== 'ok').map((p) => changeRecord(p, secrets, detail)),
  };
}

/** A planned host as the plan file keeps it: the changes for review, every resource for the check before applying. */
export function hostRecord(plan: HostPlan, secrets: SecretRegistry): PlanHost {
  return {
    ...hostView(plan, secrets, { fingerprints: true }),
    resources: plan.items
      .filter((p) => !p.item.resource.marker)
      .map((p) => ({
        play: p.item.play,
        role: p.item.role,
        type: p.item.resource.type,
        id: p.item.resource.id,
        // A report resource converges nothing: what it reads (the last backup) is no drift.
        state: fingerprint(p.item.resource.report ? null : p.state, secrets),
        planned: plannedAction(p),
        ...(p.change
          ? { change: fingerprint({ action: p.change.action, summary: p.change.summary, script: p.change.script, ...(p.change.guard ? { guard: p.change.guard } : {}) }, secrets) }
          : {}),
      })),
  };
}

/** A host that could not be planned: it is in the plan, so the plan cannot be applied as if it were complete. */
export function failedView(r: HostResult): PlanHostView {
  return {
    host: r.host,
    status: r.status === 'unreachable' ? 'unreachable' : 'failed',
    ...(r.message ? { message: r.message } : {}),
    pendingHandlers: [],
    changes: [],
  };
}

/** Every host of the run in order: its plan, or why it has none. */
function inHostOrder<T>(hosts: string[], plans: HostPlan[], failed: HostResult[], ofPlan: (p: HostPlan) => T, ofFailure: (r: HostResult) => T): T[] {
  const planOf = new Map(plans.map((p) => [p.host, p]));
  const failedOf = new Map(failed.map((r) => [r.host, r]));
  return hosts.flatMap((h) => {
    const f = failedOf.get(h);
    if (f) return [ofFailure(f)];
    const p = planOf.get(h);
    return p ? [ofPlan(p)] : [];
  });
}

/** The hosts of the run as the plan file keeps them. */
export function hostRecords(hosts: string[], plans: HostPlan[], failed: HostResult[], secrets: SecretRegistry): PlanHost[] {
  return inHostOrder(hosts, plans, failed, (p) => hostRecord(p, secrets), (r) => ({ ...failedView(r), resources: [] }));
}

/** The hosts of the run as its outputs show them. */
export function hostViews(hosts: string[], plans: HostPlan[], failed: HostResult[], secrets: SecretRegistry, detail: RecordDetail = {}): PlanHostView[] {
  return hostViewMakers(hosts, plans, failed, secrets, detail).map((make) => make());
}

/** The same, each host's view made when asked for (writeRunReport). */
export function hostViewMakers(hosts: string[], plans: HostPlan[], failed: HostResult[], secrets: SecretRegistry, detail: RecordDetail = {}): (() => PlanHostView)[] {
  return inHostOrder(hosts, plans, failed, (p) => () => hostView(p, secrets, detail), (f) => () => failedView(f));
}

/** The totals, each host's view made and dropped in turn: none of thousands of records is kept for them. */
export function planSummaryOf(makers: (() => PlanHostView)[]): PlanSummary {
  return planSummary(
    makers.map((make) => {
      const { status, changes, pendingHandlers } = make();
      return { status, changes: { length: changes.length }, pendingHandlers };
    }),
  );
}

/** A saved plan's host without what only apply's check reads (fingerprints). */
export function viewOf({ resources: _resources, ...h }: PlanHost): PlanHostView {
  return { ...h, changes: h.changes.map(({ content: _content, ...ch }) => ch) };
}

/** What the totals read of a host: its status and how many changes and pending handlers. */
type Counted = Pick<PlanHostView, 'status'> & { changes: { length: number }; pendingHandlers: { length: number } };

/** What a host has to do: its changes and the handlers pending from an earlier run. */
export const changesOf = (h: Counted) => h.changes.length + h.pendingHandlers.length;

/** The totals every output ends with ("Plan: N changes on M hosts"). */
export function planSummary(hosts: Counted[]): PlanSummary {
  const planned = hosts.filter((h) => h.status === 'planned');
  return {
    changes: planned.reduce((n, h) => n + changesOf(h), 0),
    hosts: planned.filter((h) => changesOf(h) > 0).length,
    failed: hosts.length - planned.length,
  };
}

/** The plan file, every string of it masked (digests are left alone: a short secret could match inside one). */
export function makePlanFile(inputs: PlanInputs, hosts: PlanHost[], secrets: SecretRegistry, created = new Date()): PlanFile {
  return secrets.maskStrings({
    format: PLAN_FORMAT,
    mxplay: MXPLAY_VERSION,
    created: created.toISOString(),
    inputs,
    summary: planSummary(hosts),
    hosts,
  });
}

interface RunReportParts {
  check: boolean;
  applied: boolean;
  refused?: string[];
  hosts: PlanHostView[];
  results: HostResult[];
  verify?: VerifyResult[];
}

/** run --json's document (apply --json's too), every string of it masked. */
export function makeRunReport(o: RunReportParts & { summary?: PlanSummary }, secrets: SecretRegistry): RunReport {
  return secrets.maskStrings({
    format: RUN_FORMAT,
    mxplay: MXPLAY_VERSION,
    check: o.check,
    applied: o.applied,
    ...(o.refused ? { refused: o.refused } : {}),
    summary: o.summary ?? planSummary(o.hosts),
    hosts: o.hosts,
    results: o.results,
    ...(o.verify ? { verify: o.verify } : {}),
  });
}

/**
 * The report as printed. Masked again as a whole text, as run --json always was: it holds no
 * digest a short secret could cut into (fingerprints are the plan file's alone).
 */
export const runReportJson = (r: RunReport, secrets: SecretRegistry): string => secrets.mask(JSON.stringify(r, null, 2));

/**
 * The report as runReportJson prints it, written a host at a time: each host's view is made, masked
 * and written in turn, so a large first run's file texts are never all held at once (nor a second
 * time in one JSON string and its masked copy). `hosts` makes each host's view; `summary`: the totals.
 * `write` returns a promise when the reader has to catch up first (a pipe's buffer is full): the next
 * host is made only then. Written on regardless, a pipe queues the whole report in memory (21 MB of
 * text at 50 hosts × 602 resources: 260 MB peak instead of 188).
 */
export async function writeRunReport(
  o: Omit<RunReportParts, 'hosts'> & { summary: PlanSummary; hosts: (() => PlanHostView)[] },
  secrets: SecretRegistry,
  write: (s: string) => void | Promise<void>,
): Promise<void> {
  const skeleton = runReportJson(makeRunReport({ ...o, hosts: [] }, secrets), secrets);
  const at = skeleton.indexOf(HOSTS_SLOT);
  await write(skeleton.slice(0, at));
  await write('\n  "hosts": [');
  for (const [i, view] of o.hosts.entries()) {
    await write(`${i ? ',' : ''}\n    ${secrets.mask(JSON.stringify(secrets.maskStrings(view()), null, 2)).replaceAll('\n', '\n    ')}`);
  }
  await write(o.hosts.length ? '\n  ]' : ']');
  await write(skeleton.slice(at + HOSTS_SLOT.length));
}

/** Where the hosts go in the report's text, two spaces in (JSON.stringify's indent: no string holds a line break). */
const HOSTS_SLOT = '\n  "hosts": []';
