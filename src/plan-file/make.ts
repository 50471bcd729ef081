import type { HostPlan, PlannedItem } from '../engine/plan.ts';
import type { HostResult } from '../engine/run.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { unifiedDiff } from '../ui/diff.ts';
import { fingerprint } from './digest.ts';
import { MXPLAY_VERSION, PLAN_FORMAT, type PlanChange, type PlanFile, type PlanHost, type PlanInputs, type PlanResource } from './format.ts';

const plannedAction = (p: PlannedItem): PlanResource['planned'] => (p.status === 'ok' ? 'ok' : p.status === 'deferred' ? '?' : p.change!.action);

function changeRecord(p: PlannedItem, secrets: SecretRegistry): PlanChange {
  const r = p.item.resource;
  const d = p.change?.diff;
  const shown = d && !d.hidden ? unifiedDiff(d, secrets, false) : '';
  return {
    action: plannedAction(p) as PlanChange['action'],
    type: r.type,
    id: r.id,
    role: p.item.role,
    summary: p.status === 'deferred' ? p.reason! : p.change!.summary,
    ...(d?.hidden ? { secret: true as const, ...(d.after !== null ? { content: fingerprint(d.after, secrets) } : {}) } : {}),
    ...(shown ? { diff: shown } : {}),
  };
}

/** A planned host as the plan file keeps it: the changes for review, every resource for the check before applying. */
export function hostRecord(plan: HostPlan, secrets: SecretRegistry): PlanHost {
  const items = plan.items.filter((p) => !p.item.resource.marker);
  return {
    host: plan.host,
    status: 'planned',
    pendingHandlers: plan.pendingHandlers,
    changes: items.filter((p) => p.status !== 'ok').map((p) => changeRecord(p, secrets)),
    resources: items.map((p) => ({
      play: p.item.play,
      role: p.item.role,
      type: p.item.resource.type,
      id: p.item.resource.id,
      state: fingerprint(p.state, secrets),
      planned: plannedAction(p),
      ...(p.change
        ? { change: fingerprint({ action: p.change.action, summary: p.change.summary, script: p.change.script, ...(p.change.guard ? { guard: p.change.guard } : {}) }, secrets) }
        : {}),
    })),
  };
}

/** A host that could not be planned: it is in the plan, so the plan cannot be applied as if it were complete. */
export function failedRecord(r: HostResult): PlanHost {
  return {
    host: r.host,
    status: r.status === 'unreachable' ? 'unreachable' : 'failed',
    ...(r.message ? { message: r.message } : {}),
    pendingHandlers: [],
    changes: [],
    resources: [],
  };
}

export const changesOf = (h: PlanHost) => h.changes.length + h.pendingHandlers.length;

/** The plan file, every string of it masked (digests are left alone: a short secret could match inside one). */
export function makePlanFile(inputs: PlanInputs, hosts: PlanHost[], secrets: SecretRegistry, created = new Date()): PlanFile {
  const planned = hosts.filter((h) => h.status === 'planned');
  return secrets.maskStrings({
    format: PLAN_FORMAT,
    mxplay: MXPLAY_VERSION,
    created: created.toISOString(),
    inputs,
    summary: {
      changes: planned.reduce((n, h) => n + changesOf(h), 0),
      hosts: planned.filter((h) => changesOf(h) > 0).length,
      failed: hosts.length - planned.length,
    },
    hosts,
  });
}

/** Every host of the run in order: its plan, or why it has none. */
export function hostRecords(hosts: string[], plans: HostPlan[], failed: HostResult[], secrets: SecretRegistry): PlanHost[] {
  const planOf = new Map(plans.map((p) => [p.host, p]));
  const failedOf = new Map(failed.map((r) => [r.host, r]));
  return hosts.flatMap((h) => {
    const f = failedOf.get(h);
    if (f) return [failedRecord(f)];
    const p = planOf.get(h);
    return p ? [hostRecord(p, secrets)] : [];
  });
}
