import { stdin, stdout, stderr } from 'node:process';
import type { HostPlan } from '../engine/plan.ts';
import { applyAll, closeAll, finishUnapplied, planAll, skipHosts, type HostResult, type Session } from '../engine/run.ts';
import type { HostWork } from '../engine/work.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { Playbook } from '../playbook/playbook.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import type { HostKeyChecking } from '../transport/connection.ts';
import { accessDefaults, prepareAccess, type AccessOptions } from '../transport/credentials.ts';
import { cancelAhead, startAhead } from '../transport/head-start.ts';
import { readSshConfigAhead } from '../transport/resolve.ts';
import type { PlanHostView } from '../plan-file/format.ts';
import { changeRecord, changesOf, hostViewMakers, hostViews, planSummary, planSummaryOf, writeRunReport } from '../plan-file/make.ts';
import { colourOn } from '../ui/color.ts';
import { pacedWriter } from '../ui/paced-write.ts';
import { renderAppliedChange, renderPlanText } from '../ui/plan-text.ts';
import { liveProgress, plainProgress, type Progress } from '../ui/progress.ts';
import { confirm } from '../ui/prompt.ts';
import { renderRecap } from '../ui/recap.ts';
import { since, verbose, verbosity } from '../log.ts';
import { buildWorks } from './build-works.ts';

/** What selects the work: the same for run, plan and apply (apply takes them from the plan). */
export interface RunInputs {
  playbook: string;
  /** One -i, or several (merged in order). */
  inventory: string | string[];
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars: string[];
  hostKeyChecking?: HostKeyChecking;
  /** -u, --private-key, --jump, -k, -K. */
  access?: AccessOptions;
  /** The run's secrets: filled while building, used by every output. */
  secrets: SecretRegistry;
}

/** How a run shows, asks and applies (shared by `run` and `apply`). */
export interface RunFlags {
  check: boolean;
  diff: boolean;
  yes: boolean;
  json: boolean;
  detailedExitcode: boolean;
  forks: number;
  /** --step: ask host by host, instead of once for all. */
  step?: boolean;
  /** --verify: the checks of `mxplay verify` at the end. */
  verify?: boolean;
}

export interface RunArgs extends RunInputs, RunFlags {}

export interface Built {
  playbook: Playbook;
  inventory: Inventory;
  works: HostWork[];
  secrets: SecretRegistry;
}

export interface Planned {
  session: Session;
  /** Plans of the hosts that were reached and planned, in host order. */
  plans: HostPlan[];
  /** Hosts that failed or were unreachable while planning. */
  failedEarly: HostResult[];
}

/**
 * buildWorks, then the credentials every host needs (keys read, passwords asked): ready to connect.
 * The connections of the first `forks` hosts (those contacted first) are begun while the rest is
 * built, up to their authentication, which waits until the engine asks for them (head-start.ts):
 * no login anywhere before the inputs are known good. An input error gives them all up.
 */
export async function buildRun(a: RunInputs, forks = 0): Promise<Built> {
  const t0 = Date.now();
  let ahead = 0;
  let built: Omit<Built, 'secrets'>;
  try {
    built = await buildWorks(
      a,
      async () => ({ ...(await accessDefaults(a.access, a.secrets)), ...(a.hostKeyChecking ? { hostKeyChecking: a.hostKeyChecking } : {}) }),
      (params) => {
        // The others' ssh_config is read now too: one shell runs all those ssh -G (transport/ssh-g.ts).
        if (ahead++ < forks) startAhead(params);
        else if (forks) readSshConfigAhead(params);
      },
    );
    await prepareAccess(built.works.map((w) => w.params), a.secrets);
  } catch (e) {
    cancelAhead();
    throw e;
  }
  const { works } = built;
  verbose(1, undefined, `inputs read in ${since(t0)}: ${works.length} host(s), ${works.reduce((n, w) => n + w.plays.reduce((m, p) => m + p.items.length, 0), 0)} resource(s), ${a.secrets.size} secret value(s) to mask`);
  return { ...built, secrets: a.secrets };
}

/**
 * Live per-host progress on a terminal, plain lines on stderr otherwise (none with --json). With
 * -v, plain lines: verbose lines on stderr would break listr2's redrawn display.
 */
function progressFor(works: HostWork[], secrets: SecretRegistry, live: boolean, quiet: boolean) {
  const hosts = works.map((w) => w.host.name);
  const useLive = live && verbosity() === 0;
  return (title: string): Promise<Progress> => (useLive ? liveProgress(title, hosts, secrets) : Promise.resolve(plainProgress(stderr, secrets, quiet)));
}

/** Connect to every host and plan it. The caller closes the session (closeAll). */
export async function planRun(built: Built, forks: number, o: { live: boolean; quiet: boolean }): Promise<Planned> {
  const { works, secrets } = built;
  const p = await progressFor(works, secrets, o.live, o.quiet)('Planning');
  const session = await planAll(works, forks, p);
  await p.close();
  const plans = works.flatMap((w) => session.plans.get(w.host.name) ?? []).filter((pl) => !session.results.has(pl.host));
  const failedEarly = works.flatMap((w) => session.results.get(w.host.name) ?? []);
  return { session, plans, failedEarly };
}

export interface ApplyOptions extends RunFlags {
  /** When the command started, for the recap. */
  t0: number;
}

/**
 * Show the plan, ask, apply, print the recap: what run and apply share once hosts are planned.
 * Exit codes: 0 converged or nothing to do, 1 error or failed host, 2 changes pending (--check --detailed-exitcode).
 */
export async function reviewAndApply(built: Built, planned: Planned, a: ApplyOptions): Promise<number> {
  const { playbook, works, secrets } = built;
  const { session, plans, failedEarly } = planned;
  const hosts = works.map((w) => w.host.name);
  const tty = !!stdout.isTTY && !a.json;
  const colour = colourOn() && !a.json;
  // The plan's records, as every output shows them; --json shows them in its report alone (with the
  // whole file texts, made a host at a time as it is written): here, its counts. The records shown
  // are let go once shown (`shown` is set to undefined): an apply must not hold every diff of every host.
  let shown = a.json ? undefined : hostViews(hosts, plans, failedEarly, secrets);
  const summaryNow = () => planSummaryOf(hostViewMakers(hosts, plans, failedEarly, secrets, { brief: true }));
  const summary = shown ? planSummary(shown) : summaryNow();
  const { changes, hosts: changing } = summary;
  const print = (s: string) => stdout.write(s + '\n');

  if (shown) stdout.write(renderPlanText(shown, summary, colour, secrets));

  const finish = async (applied: boolean): Promise<number> => {
    const results = hosts.map((h) => session.results.get(h)).filter((r): r is HostResult => !!r);
    const secs = (Date.now() - a.t0) / 1000;
    if (!a.json) print(renderRecap(results, secs, secrets));
    // --verify: the hosts that ended well (a failed host's services are not news), after the recap.
    const healthy = new Set(results.filter((r) => r.status !== 'failed' && r.status !== 'unreachable').map((r) => r.host));
    const checked = a.verify ? await (await import('./verify.ts')).verifyWorks(works.filter((w) => healthy.has(w.host.name)), secrets, { json: a.json }) : undefined;
    if (a.json) {
      // After an apply, the plan as the apply resolved it: a '?' item re-probed became what it was found to be.
      const resolved = applied ? summaryNow() : summary;
      const views = hostViewMakers(hosts, plans, failedEarly, secrets, { texts: true });
      await writeRunReport({ check: a.check, applied, summary: resolved, hosts: views, results, ...(checked ? { verify: checked } : {}) }, secrets, pacedWriter(stdout));
      stdout.write('\n');
    }
    if (results.some((r) => r.status === 'failed' || r.status === 'unreachable')) return 1;
    if (checked?.some((r) => !r.ok)) return 1;
    if (!applied && a.check && a.detailedExitcode && changes > 0) return 2;
    return 0;
  };

  shown = undefined;
  if (a.check || changes === 0) {
    finishUnapplied(works, session, plainProgress(stderr, secrets, true));
    return finish(false);
  }
  let applying = works;
  if (!a.yes) {
    if (!stdin.isTTY) {
      stderr.write(`Not applying: no terminal to ask on. Review the plan, then re-run with --yes${a.step ? ' (without --step)' : ''} (or use --check for a dry run).\n`);
      finishUnapplied(works, session, plainProgress(stderr, secrets, true));
      return 1;
    }
    if (a.step) {
      const declined = await declinedHosts(hostViews(hosts, plans, failedEarly, secrets, { brief: true }), confirm);
      applying = works.filter((w) => !declined.has(w.host.name));
      skipHosts(works.filter((w) => declined.has(w.host.name)), session, plainProgress(stderr, secrets, true), 'not applied: declined at the --step question');
    } else if (!(await confirm(`Apply ${changes} change${changes === 1 ? '' : 's'} on ${changing} host${changing === 1 ? '' : 's'}?`))) {
      stderr.write('Nothing applied.\n');
      finishUnapplied(works, session, plainProgress(stderr, secrets, true));
      return 1;
    }
  }
  const p = await progressFor(applying, secrets, tty, a.json)('Applying');
  // Hosts that failed planning go in too: they count against max_fail_percentage.
  await applyAll(playbook, applying, session, a.forks, {
    phase: p.phase,
    event: (h, e) => {
      p.event(h, e);
      // --diff: each file's diff again as it is applied, for logs of the apply itself.
      if (a.diff && !a.json && e.kind === 'changed' && e.item.change?.diff) {
        stdout.write(renderAppliedChange(h, changeRecord(e.item, secrets), colour, secrets));
      }
    },
    hostDone: p.hostDone,
  });
  await p.close();
  return finish(true);
}

/**
 * --step: one question per host with changes, in host order (Ansible's --step asks per task; per
 * host is what a rollout over a few servers needs). The hosts answered no.
 */
export async function declinedHosts(hosts: PlanHostView[], ask: (question: string) => Promise<boolean>): Promise<Set<string>> {
  const declined = new Set<string>();
  for (const h of hosts) {
    const n = changesOf(h);
    if (h.status !== 'planned' || n === 0) continue;
    if (!(await ask(`Apply ${n} change${n === 1 ? '' : 's'} on ${h.host}?`))) declined.add(h.host);
  }
  return declined;
}

export async function runCommand(a: RunArgs): Promise<number> {
  const t0 = Date.now();
  const built = await buildRun(a, a.forks);
  const planned = await planRun(built, a.forks, { live: !!stdout.isTTY && !a.json, quiet: a.json });
  try {
    return await reviewAndApply(built, planned, { ...a, t0 });
  } finally {
    await closeAll(planned.session);
  }
}
