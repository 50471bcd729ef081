import type { HostPlan } from '../engine/plan.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { maskSecretLines } from '../secrets/secrets.ts';

/** Before and after of a file diff for JSON: a replaced secret masked where the new one stands, secret-looking assignments masked. */
// The run's secrets first, whole: the key-based masking after it would cut a known secret short.
const maskedTexts = (secrets: SecretRegistry, before: string | null, after: string | null) => ({
  before: before === null ? null : maskSecretLines(secrets.mask(after === null ? before : secrets.maskFormer(before, after))),
  after: after === null ? null : maskSecretLines(secrets.mask(after)),
});

/** The plan as data (for --json and saved plans): secrets masked, secret file contents left out. */
export function planToJson(plans: HostPlan[], secrets: SecretRegistry) {
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
                : { path: i.change.diff.path, ...maskedTexts(secrets, i.change.diff.before, i.change.diff.after) },
            }
          : {}),
      })),
  }));
}

export function toMaskedJson(value: unknown, secrets: SecretRegistry): string {
  return secrets.mask(JSON.stringify(value, null, 2));
}
