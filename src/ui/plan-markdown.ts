import { changesOf } from '../plan-file/make.ts';
import type { PlanChange, PlanFile, PlanHostView } from '../plan-file/format.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { describeInputs, planTotals, plural, secretNote } from './plan-text.ts';

/** Text that renders as itself in markdown and inside HTML (summary lines, table cells). */
export function mdText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#~])/g, '\\$1');
}

/** Text inside HTML (the <summary> line): markdown is not read there, so only HTML is escaped. */
const htmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const longestRun = (s: string, ch: string) => Math.max(0, ...(s.match(new RegExp(`${ch}+`, 'g')) ?? []).map((m) => m.length));

/** Inline code that survives backticks and pipes in the value (ids are paths, names, commands). */
export function mdCode(s: string): string {
  const ticks = '`'.repeat(longestRun(s, '`') + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s.replace(/\|/g, '\\|')}${pad}${ticks}`;
}

/** A fenced block whose fence is longer than any backtick run inside (a diff of a markdown file). */
export function mdFence(body: string, lang: string): string {
  const fence = '`'.repeat(Math.max(3, longestRun(body, '`') + 1));
  return `${fence}${lang}\n${body}\n${fence}`;
}

function counts(h: PlanHostView): string {
  if (h.status !== 'planned') return `**${h.status}**: ${mdText((h.message ?? '').split('\n')[0] ?? '')}`;
  const by = new Map<string, number>();
  for (const ch of h.changes) by.set(ch.action, (by.get(ch.action) ?? 0) + 1);
  const parts = (['+', '~', '-', '?'] as const).filter((a) => by.has(a)).map((a) => `${mdCode(a)} ${by.get(a)}`);
  if (h.pendingHandlers.length) parts.push(`${mdCode('!')} ${h.pendingHandlers.length}`);
  return parts.join(' ') || 'no changes';
}

function changeBlock(ch: PlanChange): string[] {
  const out = [`${mdCode(ch.action)} ${mdText(ch.type)} ${mdCode(ch.id)} (${mdText(ch.role)}): ${mdText(ch.summary)}`, ''];
  if (ch.secret) out.push(`*${mdText(secretNote(ch))}*`, '');
  if (ch.diff) out.push(mdFence(ch.diff, 'diff'), '');
  return out;
}

function hostBlock(h: PlanHostView): string[] {
  if (h.status !== 'planned') {
    return [`<details><summary>${htmlText(h.host)} — ${h.status}</summary>`, '', mdFence(h.message ?? h.status, ''), '', '</details>', ''];
  }
  const n = changesOf(h);
  if (!n) return []; // the table says so; an empty fold would only be noise
  const out = [`<details><summary>${htmlText(h.host)} — ${plural(n, 'change')}</summary>`, ''];
  for (const ch of h.changes) out.push(...changeBlock(ch));
  for (const hd of h.pendingHandlers) out.push(`${mdCode('!')} handler ${mdCode(hd)}: pending from an earlier run`, '');
  out.push('</details>', '');
  return out;
}

/** A saved plan as a merge-request comment: a summary table, then each host's changes and diffs, collapsible. */
export function renderPlanMarkdown(pf: PlanFile, secrets: SecretRegistry): string {
  const lines = [
    `### mxplay plan: ${plural(pf.summary.changes, 'change')} on ${plural(pf.summary.hosts, 'host')}${pf.summary.failed ? `, ${pf.summary.failed} failed` : ''}`,
    '',
    `${mdText(describeInputs(pf))}; made ${mdText(pf.created)} by mxplay ${mdText(pf.mxplay)}`,
    '',
    '| host | changes |',
    '| --- | --- |',
    ...pf.hosts.map((h) => `| ${mdText(h.host)} | ${counts(h)} |`),
    '',
  ];
  for (const h of pf.hosts) lines.push(...hostBlock(h));
  lines.push(mdText(planTotals(pf.summary)));
  return secrets.mask(lines.join('\n')) + '\n';
}
