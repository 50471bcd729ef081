import { q } from './sh.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface DebconfOptions extends ResourceCommon {
  package: string;
  question: string;
  vtype: 'string' | 'boolean' | 'select' | 'password' | 'note' | 'multiselect';
  value: string | boolean;
}

export interface DebconfState {
  /** null: the question is not in the database yet. */
  value: string | null;
}

export function planDebconf(o: DebconfOptions, s: DebconfState): PlanResult {
  const want = String(o.value);
  if (s.value === want) return null;
  // debconf-set-selections reads one answer per line: a line break would add an answer of its own.
  if (/[\r\n]/.test(want)) throw new Error(`debconf ${o.question}: an answer cannot hold a line break`);
  const line = `${o.package} ${o.question} ${o.vtype} ${want}`;
  return {
    action: s.value === null ? '+' : '~',
    summary:
      o.vtype === 'password' // neither the old nor the new password belongs in a plan
        ? `${o.question} (password) ${s.value === null ? 'set' : 'changes'}`
        : s.value === null ? `${o.question} = ${want}` : `${o.question}: ${s.value} → ${want}`,
    script: `printf '%s\\n' ${q(line)} | debconf-set-selections`,
  };
}

/** Preseed one debconf answer, so a package installs without asking. */
export function debconf(o: DebconfOptions): Resource<DebconfState> {
  // Read with every other question of the host in one debconf-communicate (see facts.ts).
  const probe: FactProbe<DebconfState> = { facts: { debconf: [o.question] }, read: (f) => ({ value: f.debconf(o.question) }) };
  return { type: 'debconf', id: `${o.package}/${o.question}`, probe, plan: (s) => planDebconf(o, s), ...common(o) };
}
