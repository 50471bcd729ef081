import { stdout, stderr } from 'node:process';
import { UserError } from '../errors.ts';
import { closeAll } from '../engine/run.ts';
import { compareHosts } from '../plan-file/compare.ts';
import { readPlanFile, type PlanFile } from '../plan-file/format.ts';
import { compareInputs, extraVarsForApply, planInputs, registerLikelySecrets } from '../plan-file/inputs.ts';
import { hostRecords, makeRunReport, runReportJson, viewOf } from '../plan-file/make.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import type { HostKeyChecking } from '../transport/connection.ts';
import type { AccessOptions } from '../transport/credentials.ts';
import { buildRun, planRun, reviewAndApply, type RunInputs } from './run.ts';

export interface ApplyArgs {
  plan: string;
  yes: boolean;
  json: boolean;
  diff: boolean;
  /** Only the secret -e values the plan was made with (it does not store them). */
  extraVars: string[];
  forks: number;
  hostKeyChecking?: HostKeyChecking;
  access?: AccessOptions;
  secrets: SecretRegistry;
}

function refuse(a: ApplyArgs, pf: PlanFile, problems: string[]): number {
  stderr.write(a.secrets.mask(
    `error: refusing to apply ${a.plan}: it no longer matches; nothing was changed on any host:\n` +
      `${problems.map((p) => `  - ${p}`).join('\n')}\nMake a new plan and review it.\n`,
  ));
  // The report of a run that did not happen: the saved plan, why it was refused, no results.
  if (a.json) stdout.write(runReportJson(makeRunReport({ check: false, applied: false, refused: problems, hosts: pf.hosts.map(viewOf), results: [] }, a.secrets), a.secrets) + '\n');
  return 1;
}

/**
 * `mxplay apply plan.json`: exactly the reviewed plan. The inputs are read again and must be the
 * ones planned from; every host is probed again and each resource's state and change must be the
 * planned one. Any difference refuses the whole plan before anything runs on any host.
 */
export async function applyCommand(a: ApplyArgs): Promise<number> {
  const t0 = Date.now();
  const pf = readPlanFile(a.plan);
  const unplanned = pf.hosts.filter((h) => h.status !== 'planned');
  if (unplanned.length) {
    throw new UserError(
      `the plan has hosts that could not be planned (${unplanned.map((h) => `${h.host}: ${h.status}`).join(', ')}): ` +
        'make a new plan, with --limit to leave a host out',
      { file: a.plan },
    );
  }
  const i = pf.inputs;
  const inputs: RunInputs = {
    playbook: i.playbook,
    inventory: i.inventory,
    ...(i.limit ? { limit: i.limit } : {}),
    ...(i.tags ? { tags: i.tags } : {}),
    ...(i.skipTags ? { skipTags: i.skipTags } : {}),
    extraVars: extraVarsForApply(i.extraVars, a.extraVars, a.plan),
    ...(a.hostKeyChecking ? { hostKeyChecking: a.hostKeyChecking } : {}),
    ...(a.access ? { access: a.access } : {}),
    secrets: a.secrets,
  };
  const built = await buildRun(inputs, a.forks);
  registerLikelySecrets(built.inventory, inputs.extraVars, a.secrets);
  const now = planInputs(built.playbook, built.inventory, inputs, a.secrets);
  const stale = compareInputs(i.files, now.files);
  if (now.secrets !== i.secrets) stale.push('a secret value (in the inventory, an -e secret or the master secret) changed since the plan was made');
  if (stale.length) return refuse(a, pf, stale);

  const planned = await planRun(built, a.forks, { live: !!stdout.isTTY && !a.json, quiet: a.json });
  try {
    const hosts = built.works.map((w) => w.host.name);
    const problems = compareHosts(pf.hosts, hostRecords(hosts, planned.plans, planned.failedEarly, a.secrets));
    if (problems.length) return refuse(a, pf, problems);
    return await reviewAndApply(built, planned, { check: false, diff: a.diff, yes: a.yes, json: a.json, detailedExitcode: false, forks: a.forks, t0 });
  } finally {
    await closeAll(planned.session);
  }
}
