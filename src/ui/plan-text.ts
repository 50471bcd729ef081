import { countChanges, type HostPlan, type PlannedItem } from '../engine/plan.ts';
import type { HostResult } from '../engine/run.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { c } from './color.ts';
import { unifiedDiff } from './diff.ts';

const symbol = (p: PlannedItem) => (p.status === 'deferred' ? '?' : p.change!.action);
const paint = (sym: string) => (sym === '+' ? c.green : sym === '-' ? c.red : sym === '?' ? c.cyan : c.yellow)(sym);

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

/** The plan as a reviewer reads it: per host, each change with its reason and the file diffs. */
export function renderPlan(plans: HostPlan[], failed: HostResult[], opts: { diffs: boolean; colour: boolean; secrets: SecretRegistry }): string {
  const out: string[] = [];
  for (const plan of plans) {
    const n = countChanges(plan);
    out.push(c.bold(`${plan.host}`) + (n ? `  ${n} change${n === 1 ? '' : 's'}` : c.dim('  no changes')));
    for (const p of plan.items) {
      if (p.status === 'ok') continue;
      const r = p.item.resource;
      const sym = symbol(p);
      const what = `${r.type} ${r.id}`;
      const why = p.status === 'deferred' ? p.reason! : p.change!.summary;
      out.push(`  ${paint(sym)} ${what}${c.dim(`  [${p.item.role}]`)}  ${why}`);
      if (opts.diffs && p.change?.diff) {
        const d = unifiedDiff(p.change.diff, opts.secrets, opts.colour);
        if (d) out.push(indent(d, '      '));
      }
    }
    for (const h of plan.pendingHandlers) out.push(`  ${c.yellow('!')} handler ${h}  pending from an earlier run`);
  }
  for (const f of failed) {
    out.push(c.bold(f.host) + '  ' + c.red(f.status.toUpperCase()));
    if (f.message) out.push(indent(f.message, '    '));
  }
  return opts.secrets.mask(out.join('\n'));
}

export function planSummary(plans: HostPlan[]): { changes: number; hosts: number } {
  const changing = plans.filter((p) => countChanges(p) > 0);
  return { changes: changing.reduce((a, p) => a + countChanges(p), 0), hosts: changing.length };
}
