import type { PlanChange, PlanFile, PlanHostView, PlanSummary } from '../plan-file/format.ts';
import { changesOf } from '../plan-file/make.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { paintAction, paintDiffLine, palette, type Palette } from './color.ts';

// The plan as text, for run and run --check, mxplay show and plan -o plan.txt: one layout, from
// the records of plan-file/make.ts. Colour only where a terminal reads it.

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What the plan was made from, in one line: playbook, inventory and the selection options. */
export function describeInputs(pf: PlanFile): string {
  const i = pf.inputs;
  const parts = [`${i.playbook} on inventory ${i.inventory}`];
  if (i.limit) parts.push(`limit ${i.limit}`);
  if (i.tags?.length) parts.push(`tags ${i.tags.join(',')}`);
  if (i.skipTags?.length) parts.push(`skip-tags ${i.skipTags.join(',')}`);
  for (const e of i.extraVars) parts.push(`-e ${typeof e === 'string' ? e : `${e.key}=(secret)`}`);
  return parts.join(', ');
}

/** The summary line every rendering ends with. */
export function planTotals(s: PlanSummary): string {
  return `Plan: ${plural(s.changes, 'change')} on ${plural(s.hosts, 'host')}${s.failed ? `, ${s.failed} host(s) failed or unreachable` : ''}`;
}

/** What a reviewer is told of a file whose whole content is secret. */
export const secretNote = (ch: PlanChange) => (ch.action === '-' ? '(secret content removed)' : '(secret content changes; not shown)');

/** What is shown under a change: its diff, or that a secret file changes. */
export function changeDetail(ch: PlanChange, k: Palette): string[] {
  if (ch.secret) return [secretNote(ch)];
  return ch.diff ? ch.diff.split('\n').map((l) => paintDiffLine(l, k)) : [];
}

const indent = (lines: string[], by: string) => lines.map((l) => by + l);

function hostLines(h: PlanHostView, k: Palette): string[] {
  if (h.status !== 'planned') return [k.bold(h.host) + '  ' + k.red(h.status.toUpperCase()), ...indent((h.message ?? '').split('\n').filter(Boolean), '    ')];
  const n = changesOf(h);
  const out = [k.bold(h.host) + (n ? `  ${plural(n, 'change')}` : k.dim('  no changes'))];
  for (const ch of h.changes) {
    out.push(`  ${paintAction(ch.action, k)} ${ch.type} ${ch.id}${k.dim(`  [${ch.role}]`)}  ${ch.summary}`);
    out.push(...indent(changeDetail(ch, k), '      '));
  }
  for (const hd of h.pendingHandlers) out.push(`  ${paintAction('!', k)} handler ${hd}  pending from an earlier run`);
  return out;
}

/** Each host with its changes and their diffs, then the totals: what run prints before it asks. */
export function renderPlanText(hosts: PlanHostView[], summary: PlanSummary, colour: boolean, secrets: SecretRegistry): string {
  const k = palette(colour);
  return secrets.mask([...hosts.flatMap((h) => hostLines(h, k)), '', planTotals(summary)].join('\n')) + '\n';
}

/** A saved plan for a terminal (or a .txt file, without colour): what it was made from, then the layout of run --check. */
export function renderPlanFileText(pf: PlanFile, colour: boolean, secrets: SecretRegistry): string {
  const header = palette(colour).dim(`Plan of ${describeInputs(pf)}; made ${pf.created} by mxplay ${pf.mxplay}`);
  return secrets.mask(header) + '\n\n' + renderPlanText(pf.hosts, pf.summary, colour, secrets);
}

/** run --diff: a change's diff again as it is applied, for logs of the apply itself; empty when it has none. */
export function renderAppliedChange(host: string, ch: PlanChange, colour: boolean, secrets: SecretRegistry): string {
  const detail = changeDetail(ch, palette(colour));
  return detail.length ? secrets.mask([`[${host}] ${ch.type} ${ch.id}`, ...detail].join('\n')) + '\n' : '';
}
