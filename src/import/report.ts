// The import's report: what was written, what the first run will change, what was kept and how,
// and what the user has to decide. The same content as --report-json.
import type { Kept, NotImported } from './model.ts';
import type { SecretEntry } from './write.ts';

export interface ImportReportJson {
  host: string;
  file: string;
  roles: string[];
  secrets: SecretEntry[];
  synapseChanges: { key: string; reason: string }[];
  kept: Kept[];
  notImported: NotImported[];
  replacedFiles: string[];
}

const at = (x: { file: string; key?: string; line?: number }) => `${x.file}${x.line ? `:${x.line}` : ''}${x.key ? ` ${x.key}` : ''}`;

export function importReport(r: ImportReportJson, shown: string, inventory: string): string {
  const out: string[] = [`Imported ${r.host} into ${shown}: roles ${r.roles.join(', ')} (a play gives ${r.host} these roles, in this order).`];
  const section = (title: string, lines: string[]) => {
    if (lines.length) out.push('', title, ...lines.map((l) => `  ${l}`));
  };
  const vault = r.secrets.filter((s) => s.as === 'vault');
  const env = r.secrets.filter((s) => s.as !== 'vault');
  section('Secrets, written as vault values:', vault.map((s) => `${s.var}  from ${s.from}`));
  section('Secrets, written as !env references: set each before a run (or replace it by a !vault value):', env.map((s) => `${s.as}  for ${s.var}  (${s.from})`));
  section('Hand-written files the first run removes, in the same checked change as the roles\' files that replace them:', r.replacedFiles);
  const escaped = r.kept.filter((k) => k.via !== 'left in place' && !k.via.startsWith('left in place'));
  const left = r.kept.filter((k) => !escaped.includes(k));
  section('Settings no role variable covers, kept through:', escaped.map((k) => `${at(k)}  →  ${k.via}`));
  section('Settings left where they are (the roles do not write these files or keys):', left.map((k) => at(k)));
  section(
    r.synapseChanges.length ? "Synapse settings whose effective value the first run changes (as Synapse merges its files):" : '',
    r.synapseChanges.map((c) => `${c.key}: ${c.reason}`),
  );
  if (!r.synapseChanges.length && r.roles.includes('synapse')) out.push('', "Synapse's effective configuration stays as it is: the roles' fragments say what the host's files say.");
  section('Not imported: yours to decide:', r.notImported.map((n) => `${at(n)}: ${n.why}`));
  out.push('', `Next: mxplay run PLAYBOOK -i ${inventory} -l ${r.host} --check   (shows every change before any is made)`);
  return out.join('\n') + '\n';
}
