import type { FactQuery, Facts } from './facts.ts';
import { q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface CommandOptions extends ResourceCommon {
  /** Shell to run. */
  cmd: string;
  /** Short name for plans; defaults to the command's first line. */
  name?: string;
  /** Skip when this path exists (when planning, and again just before the command runs). */
  creates?: string;
  /**
   * Skip when this check succeeds. Run when probing and again just before the command runs, so it
   * must not change anything.
   */
  unless?: string;
  /** Skip when this reading of the batched facts (a row in a database, ...) says it is done. */
  doneWhen?: { facts: FactQuery; read(f: Facts): boolean };
}

export interface CommandState {
  done: boolean;
}

/** The shell condition saying a command is done: `creates` exists, or `unless` succeeds. */
export function commandGuard(o: Pick<CommandOptions, 'creates' | 'unless'>): string | undefined {
  const guards = [
    o.creates ? `[ -e ${q(o.creates)} ]` : '',
    o.unless ? `( ${o.unless}\n) >/dev/null 2>&1` : '',
  ].filter(Boolean);
  return guards.length ? guards.join(' || ') : undefined;
}

export function planCommand(o: CommandOptions, s: CommandState): PlanResult {
  if (s.done) return null;
  // Like Ansible, creates/unless are read when the command runs, not only when planning: an
  // earlier step of the run (another play's file, a package) may make them true meanwhile.
  const guard = o.doneWhen ? undefined : commandGuard(o);
  return {
    action: '+',
    summary: `run ${o.name ?? o.cmd.split('\n')[0]}${guard ? ` (${[o.creates && 'creates', o.unless && 'unless'].filter(Boolean).join(', ')} re-checked at run time)` : ''}`,
    script: o.cmd,
    ...(guard ? { guard } : {}),
  };
}

/** A command made idempotent by `creates` / `unless`; without them it runs (and changes) every time. */
export function command(o: CommandOptions): Resource<CommandState> {
  if (o.doneWhen) {
    const { facts, read } = o.doneWhen;
    return { type: 'command', id: o.name ?? o.cmd, probe: { facts, read: (f) => ({ done: read(f) }) }, plan: (s) => planCommand(o, s), snippets: commandSnippets(o), ...common(o) };
  }
  const guard = commandGuard(o);
  const probe = guard ? `if ${guard}; then echo '{"done":true}'; else echo '{"done":false}'; fi` : `echo '{"done":false}'`;
  return { type: 'command', id: o.name ?? o.cmd, probe, plan: (s) => planCommand(o, s), snippets: commandSnippets(o), ...common(o) };
}

function commandSnippets(o: CommandOptions): { what: string; text: string }[] {
  return [{ what: 'cmd', text: o.cmd }, ...(o.unless ? [{ what: 'unless', text: o.unless }] : [])];
}
