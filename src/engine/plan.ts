import { isUnresolved, type Change } from '../resources/types.ts';
import { label, type WorkItem } from './work.ts';

export type ItemStatus = 'ok' | 'change' | 'deferred';

/** One resource in a host's plan. 'deferred' is the '?' of the plan: known only after an earlier change. */
export interface PlannedItem {
  item: WorkItem;
  status: ItemStatus;
  change?: Change;
  /** For 'deferred': what it waits on, in words. */
  reason?: string;
  /** The probed state it was planned from: saved plans fingerprint it to detect drift before applying. */
  state?: unknown;
}

export interface HostPlan {
  host: string;
  items: PlannedItem[];
  /** Handlers notified by an earlier run that did not get to run them. */
  pendingHandlers: string[];
  /** Resources that cannot be planned at all (a probe that failed, a state nothing will fix). */
  errors: string[];
}

/**
 * Name the earlier change a deferred item waits for: the package install whose name appears in
 * the reason (or the item), else the nearest earlier apt/user/group change, else the nearest one.
 */
function blocker(planned: PlannedItem[], item: WorkItem, why: string): string | undefined {
  const changes = planned.filter((p) => p.status !== 'ok');
  const text = `${why} ${item.resource.id}`.toLowerCase();
  const named = changes.find(
    (p) => p.item.resource.type === 'apt' && p.item.resource.id.split(',').some((pkg) => text.includes(pkg.toLowerCase())),
  );
  const pick = named ?? [...changes].reverse().find((p) => ['apt', 'user', 'group'].includes(p.item.resource.type)) ?? changes.at(-1);
  return pick && label(pick.item.resource);
}

/** Pure: probed states in, plan out. An item whose state is meaningless before earlier changes is '?'. */
export function planItems(items: WorkItem[], states: unknown[], probeErrors: (string | undefined)[]): Pick<HostPlan, 'items' | 'errors'> {
  const out: PlannedItem[] = [];
  const errors: string[] = [];
  items.forEach((item, i) => {
    const r = item.resource;
    if (r.marker) return out.push({ item, status: 'ok' });
    const err = probeErrors[i];
    if (err) {
      errors.push(`${label(r)}: ${err}`);
      return out.push({ item, status: 'ok' });
    }
    const state = states[i];
    const p = r.plan(state);
    if (p === null) return out.push({ item, status: 'ok', state });
    if (isUnresolved(p)) {
      const after = blocker(out, item, p.unresolved);
      if (after) return out.push({ item, status: 'deferred', reason: `${p.unresolved}; known after ${after}`, state });
      errors.push(`${label(r)}: ${p.unresolved}`);
      return out.push({ item, status: 'ok', state });
    }
    out.push({ item, status: 'change', change: p, state });
  });
  return { items: out, errors };
}

export function countChanges(plan: HostPlan): number {
  return plan.items.filter((p) => p.status !== 'ok').length + plan.pendingHandlers.length;
}
