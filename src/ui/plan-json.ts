import type { HostPlan } from '../engine/plan.ts';
import { mask, maskFormer } from '../secrets/secrets.ts';

const formerMasked = (before: string | null, after: string | null) => (before !== null && after !== null ? maskFormer(before, after) : before);

/** The plan as data (for --json and saved plans): secrets masked, secret file contents left out. */
export function planToJson(plans: HostPlan[]) {
  return plans.map((p) => ({
    host: p.host,
    pending_handlers: p.pendingHandlers,
    errors: p.errors,
    changes: p.items
      .filter((i) => i.status !== 'ok')
      .map((i) => ({
        action: i.status === 'deferred' ? '?' : i.change!.action,
        type: i.item.resource.type,
        id: i.item.resource.id,
        role: i.item.role,
        summary: i.status === 'deferred' ? i.reason : i.change!.summary,
        ...(i.change?.diff
          ? {
              diff: i.change.diff.hidden
                ? { path: i.change.diff.path, hidden: true }
                : { path: i.change.diff.path, before: formerMasked(i.change.diff.before, i.change.diff.after), after: i.change.diff.after },
            }
          : {}),
      })),
  }));
}

export function toMaskedJson(value: unknown): string {
  return mask(JSON.stringify(value, null, 2));
}
