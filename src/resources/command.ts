import type { FactQuery, Facts } from './facts.ts';
import { q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface CommandOptions extends ResourceCommon {
  /** Shell to run. */
  cmd: string;
  /** Short name for plans; defaults to the command's first line. */
  name?: string;
  /** Skip when this path exists. */
  creates?: string;
  /** Skip when this check (run at probe time, so it must not change anything) succeeds. */
  unless?: string;
  /** Skip when this reading of the batched facts (a row in a database, ...) says it is done. */
  doneWhen?: { facts: FactQuery; read(f: Facts): boolean };
}

export interface CommandState {
  done: boolean;
}

export function planCommand(o: CommandOptions, s: CommandState): PlanResult {
  if (s.done) return null;
  return { action: '+', summary: `run ${o.name ?? o.cmd.split('\n')[0]}`, script: o.cmd };
}

/** A command made idempotent by `creates` / `unless`; without them it runs (and changes) every time. */
export function command(o: CommandOptions): Resource<CommandState> {
  if (o.doneWhen) {
    const { facts, read } = o.doneWhen;
    return { type: 'command', id: o.name ?? o.cmd, probe: { facts, read: (f) => ({ done: read(f) }) }, plan: (s) => planCommand(o, s), ...common(o) };
  }
  const guards = [
    o.creates ? `[ -e ${q(o.creates)} ]` : '',
    o.unless ? `( ${o.unless}\n) >/dev/null 2>&1` : '',
  ].filter(Boolean);
  const probe = guards.length
    ? `if ${guards.join(' || ')}; then echo '{"done":true}'; else echo '{"done":false}'; fi`
    : `echo '{"done":false}'`;
  return { type: 'command', id: o.name ?? o.cmd, probe, plan: (s) => planCommand(o, s), ...common(o) };
}
