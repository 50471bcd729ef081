import { changesOf } from '../plan-file/make.ts';
import type { PlanChange, PlanFile, PlanHost } from '../plan-file/format.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { c } from './color.ts';

const plain = { green: String, red: String, yellow: String, cyan: String, bold: String, dim: String } satisfies typeof c;

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

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The summary line every rendering ends with. */
export function planTotals(pf: PlanFile): string {
  const s = pf.summary;
  return `Plan: ${plural(s.changes, 'change')} on ${plural(s.hosts, 'host')}${s.failed ? `, ${s.failed} host(s) failed or unreachable` : ''}`;
}

/** What a reviewer is told of a file whose whole content is secret. */
export const secretNote = (ch: PlanChange) => (ch.action === '-' ? '(secret content removed)' : '(secret content changes; not shown)');

function hostText(h: PlanHost, k: typeof c): string[] {
  if (h.status !== 'planned') return [k.bold(h.host) + '  ' + k.red(h.status.toUpperCase()), ...(h.message ?? '').split('\n').filter(Boolean).map((l) => `    ${l}`)];
  const n = changesOf(h);
  const out = [k.bold(h.host) + (n ? `  ${plural(n, 'change')}` : k.dim('  no changes'))];
  const paint = (a: PlanChange['action']) => (a === '+' ? k.green : a === '-' ? k.red : a === '?' ? k.cyan : k.yellow)(a);
  for (const ch of h.changes) {
    out.push(`  ${paint(ch.action)} ${ch.type} ${ch.id}${k.dim(`  [${ch.role}]`)}  ${ch.summary}`);
    if (ch.secret) out.push(`      ${secretNote(ch)}`);
    if (ch.diff) {
      for (const l of ch.diff.split('\n')) {
        const col = l.startsWith('+++') || l.startsWith('---') ? k.bold : l.startsWith('+') ? k.green : l.startsWith('-') ? k.red : l.startsWith('@@') ? k.cyan : String;
        out.push(`      ${col(l)}`);
      }
    }
  }
  for (const hd of h.pendingHandlers) out.push(`  ${k.yellow('!')} handler ${hd}  pending from an earlier run`);
  return out;
}

/** A saved plan for a terminal (or a .txt file, without colour): the same layout as `run --check`. */
export function renderPlanFileText(pf: PlanFile, colour: boolean, secrets: SecretRegistry): string {
  const k = colour ? c : plain;
  const lines = [k.dim(`Plan of ${describeInputs(pf)}; made ${pf.created} by mxplay ${pf.mxplay}`), ''];
  for (const h of pf.hosts) lines.push(...hostText(h, k));
  lines.push('', planTotals(pf));
  return secrets.mask(lines.join('\n')) + '\n';
}
