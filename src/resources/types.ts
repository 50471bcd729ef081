import type { FactQuery, Facts } from './facts.ts';
import { NONE } from './shared.ts';

/** Plan symbols: create, update, delete; '?' = depends on an earlier change, known only then. */
export type Action = '+' | '~' | '-' | '?';

export interface FileDiff {
  path: string;
  before: string | null; // null: the file does not exist (or is not text we can show)
  after: string | null; // null: the file will be removed
  hidden?: boolean; // content is secret as a whole: show that it changes, never what
}

/**
 * A file written whole (what `mxp_put` does), or a directory made with its parents (`mkdir -p`),
 * with a mode and an owner: see Change.write.
 */
export type FileWrite = { path: string; mode: number; owner: string; group: string } & ({ content: string | Buffer } | { directory: true });

/** A planned change of one resource: what it is, why, and the shell that converges it. */
export interface Change {
  action: Exclude<Action, '?'>;
  summary: string;
  script: string;
  /**
   * Set when `script` does exactly this (`mxp_put` of a file; `mkdir -p`, chmod, chown of a
   * directory): the apply may make a run of them with one process instead (engine/file-batch.ts).
   */
  write?: FileWrite;
  diff?: FileDiff;
  /**
   * A shell condition that, true when the change comes to run, means it is no longer needed (a
   * command's `creates` / `unless`). Planning read it already; the apply script checks it again
   * just before the step, since an earlier step of the same run may have made it true.
   */
  guard?: string;
  /**
   * A change that could cut mxplay off the host (a firewall) is confirmed over a new connection,
   * opened right after it applies and before anything else runs: `script` runs there (it disarms
   * the host's own rollback). If the connection or the script fails, the host fails with `failed`.
   */
  confirm?: { script: string; timeoutMs: number; failed: string };
}

/** The probe could not say anything meaningful yet (e.g. the unit of a package not yet installed). */
export interface Unresolved {
  unresolved: string;
}

export type PlanResult = Change | Unresolved | null;

export function isUnresolved(p: PlanResult): p is Unresolved {
  return p !== null && 'unresolved' in p;
}

/** What a role hands to a resource that needs its role to finish (templates read files). */
export interface RoleContext {
  roleName: string;
  roleDir: string;
  hostName: string;
  vars: Record<string, unknown>;
}

export interface ResourceCommon {
  notify?: string | string[];
  tags?: string[];
  /** Files with the same validate command are swapped in as one set and checked together. */
  validate?: string;
}

/** A probe from facts read for all resources at once (paths, users, groups, packages). */
export interface FactProbe<S> {
  facts: FactQuery;
  read(f: Facts): S;
}

/**
 * A resource: read the current state, compare, converge. `probe` is a shell snippet printing one
 * JSON line, or a FactProbe; `plan` is pure (unit-tested from tables).
 */
export interface Resource<S = any> {
  type: string;
  id: string;
  probe: string | FactProbe<S>;
  plan(state: S): PlanResult;
  notify: string[];
  tags: string[];
  validate?: string;
  /** Paths this resource writes, restored if its validation set fails. */
  writes?: string[];
  /**
   * Shell written by the playbook's or role's author (a command, its `unless`), run on hosts
   * inside mxplay's scripts: each is checked with `sh -n` on the control machine before any
   * host is contacted. `validate` is checked too, without being listed here.
   */
  snippets?: { what: string; text: string }[];
  /** Engine marker resources (flush handlers) have no state of their own. */
  marker?: 'flush_handlers';
  /**
   * A line for the run's recap, read from this resource's probed state (a role's health report,
   * such as the last backup). Such a resource converges nothing: its plan is always null.
   */
  report?(state: S): HostNote | undefined;
}

/** A line about a host in the recap: 'fail' is shown as loudly as a failure. */
export interface HostNote {
  level: 'ok' | 'warn' | 'fail';
  text: string;
}

/** A resource not yet complete: templates and roles' helpers finish once the role context is known. */
export interface PendingResource {
  prepare(ctx: RoleContext): Resource | Resource[];
}

export type Task = Resource | PendingResource | Task[] | null | undefined | false | '';

export function common(o: ResourceCommon): Pick<Resource, 'notify' | 'tags' | 'validate'> {
  const notify = o.notify === undefined ? NONE : Array.isArray(o.notify) ? o.notify : [o.notify];
  return { notify, tags: o.tags ?? NONE, ...(o.validate ? { validate: o.validate } : {}) };
}
