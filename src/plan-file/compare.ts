import type { PlanHost, PlanResource } from './format.ts';

const what = (r: PlanResource) => `${r.type} ${r.id}`;
const key = (r: PlanResource) => `${r.play}|${r.role}|${r.type}|${r.id}`;

/**
 * Pure: every way the hosts as probed now differ from the saved plan, each naming the host and the
 * resource. Empty means the plan still holds: same resources, same states, same changes.
 */
export function compareHosts(saved: PlanHost[], now: PlanHost[]): string[] {
  const out: string[] = [];
  const current = new Map(now.map((h) => [h.host, h]));
  for (const s of saved) {
    const n = current.get(s.host);
    if (!n) {
      out.push(`${s.host}: in the plan, but not a host of this run`);
      continue;
    }
    if (n.status !== 'planned') {
      out.push(`${s.host}: ${n.status}${n.message ? ` (${n.message.split('\n')[0]})` : ''}: cannot check it against the plan`);
      continue;
    }
    out.push(...compareResources(s, n));
    if (s.pendingHandlers.join('\n') !== n.pendingHandlers.join('\n')) {
      out.push(`${s.host}: handlers pending on the host changed since the plan was made (plan: ${s.pendingHandlers.join(', ') || 'none'}; now: ${n.pendingHandlers.join(', ') || 'none'})`);
    }
  }
  const inPlan = new Set(saved.map((h) => h.host));
  for (const n of now) if (!inPlan.has(n.host)) out.push(`${n.host}: a host of this run, but not in the plan`);
  return out;
}

function compareResources(s: PlanHost, n: PlanHost): string[] {
  const out: string[] = [];
  const nowByKey = new Map<string, PlanResource[]>();
  for (const r of n.resources) nowByKey.set(key(r), [...(nowByKey.get(key(r)) ?? []), r]);
  for (const r of s.resources) {
    const cur = nowByKey.get(key(r))?.shift();
    if (!cur) out.push(`${s.host}: ${what(r)} (role ${r.role}) is in the plan but no longer in the playbook`);
    else if (cur.state !== r.state) out.push(`${s.host}: ${what(r)} changed on the host since the plan was made`);
    else if (cur.planned !== r.planned) out.push(`${s.host}: ${what(r)}: planned as ${r.planned}, computed now as ${cur.planned}`);
    else if (cur.change !== r.change) out.push(`${s.host}: ${what(r)}: the change computed now differs from the planned one (content or commands)`);
  }
  for (const left of nowByKey.values()) for (const r of left) out.push(`${s.host}: ${what(r)} (role ${r.role}) is not in the plan`);
  if (!out.length && s.resources.map(key).join('\n') !== n.resources.map(key).join('\n')) {
    out.push(`${s.host}: the resources are in another order than in the plan`);
  }
  return out;
}
