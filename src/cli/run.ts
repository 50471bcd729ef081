import { stdin, stdout, stderr } from 'node:process';
import { buildWork } from '../engine/build.ts';
import { applyAll, closeAll, finishUnapplied, planAll, type HostResult } from '../engine/run.ts';
import { loadInventory } from '../inventory/inventory.ts';
import { loadPlaybook } from '../playbook/playbook.ts';
import { parseExtraVars } from '../roles/vars.ts';
import type { HostKeyChecking } from '../transport/connection.ts';
import { planSummary, renderPlan } from '../ui/plan-text.ts';
import { planToJson, toMaskedJson } from '../ui/plan-json.ts';
import { liveProgress, plainProgress, type Progress } from '../ui/progress.ts';
import { confirm } from '../ui/prompt.ts';
import { renderRecap } from '../ui/recap.ts';
import { unifiedDiff } from '../ui/diff.ts';

export interface RunArgs {
  playbook: string;
  inventory: string;
  check: boolean;
  diff: boolean;
  yes: boolean;
  json: boolean;
  detailedExitcode: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars: string[];
  forks: number;
  hostKeyChecking?: HostKeyChecking;
}

/** Exit codes: 0 converged or nothing to do, 1 error or failed host, 2 changes pending (--check --detailed-exitcode). */
export async function runCommand(a: RunArgs): Promise<number> {
  const t0 = Date.now();
  const inventory = loadInventory(a.inventory);
  const playbook = loadPlaybook(a.playbook);
  const works = await buildWork(playbook, inventory, {
    extraVars: parseExtraVars(a.extraVars),
    ...(a.limit ? { limit: a.limit } : {}),
    ...(a.tags ? { tags: a.tags } : {}),
    ...(a.skipTags ? { skipTags: a.skipTags } : {}),
    ...(a.hostKeyChecking ? { connection: { hostKeyChecking: a.hostKeyChecking } } : {}),
  });
  const hosts = works.map((w) => w.host.name);
  const tty = !!stdout.isTTY && !a.json;
  const progress = (title: string): Promise<Progress> => (tty ? liveProgress(title, hosts) : Promise.resolve(plainProgress(stderr, a.json)));

  let p = await progress('Planning');
  const session = await planAll(works, a.forks, p);
  await p.close();
  try {
    const plans = hosts.flatMap((h) => session.plans.get(h) ?? []).filter((pl) => !session.results.has(pl.host));
    const failedEarly = [...session.results.values()];
    const { changes, hosts: changing } = planSummary(plans);
    const print = (s: string) => stdout.write(s + '\n');

    if (!a.json) {
      print(renderPlan(plans, failedEarly, { diffs: true, colour: tty }));
      print(`\nPlan: ${changes} change${changes === 1 ? '' : 's'} on ${changing} host${changing === 1 ? '' : 's'}` +
        (failedEarly.length ? `, ${failedEarly.length} host(s) failed or unreachable` : ''));
    }

    const finish = (applied: boolean): number => {
      const results = hosts.map((h) => session.results.get(h)).filter((r): r is HostResult => !!r);
      const secs = (Date.now() - t0) / 1000;
      if (a.json) print(toMaskedJson({ check: a.check, applied, plan: planToJson(plans), results }));
      else print(renderRecap(results, secs));
      if (results.some((r) => r.status === 'failed' || r.status === 'unreachable')) return 1;
      if (!applied && a.check && a.detailedExitcode && changes > 0) return 2;
      return 0;
    };

    if (a.check || changes === 0) {
      finishUnapplied(works, session, plainProgress(stderr, true));
      return finish(false);
    }
    if (!a.yes) {
      if (!stdin.isTTY) {
        stderr.write('Not applying: no terminal to ask on. Review the plan, then re-run with --yes (or use --check for a dry run).\n');
        finishUnapplied(works, session, plainProgress(stderr, true));
        return 1;
      }
      if (!(await confirm(`Apply ${changes} change${changes === 1 ? '' : 's'} on ${changing} host${changing === 1 ? '' : 's'}?`))) {
        stderr.write('Nothing applied.\n');
        finishUnapplied(works, session, plainProgress(stderr, true));
        return 1;
      }
    }
    p = await progress('Applying');
    const appliedWorks = works.filter((w) => !session.results.has(w.host.name));
    await applyAll(playbook, appliedWorks, session, a.forks, {
      phase: p.phase,
      event: (h, e) => {
        p.event(h, e);
        // --diff: each file's diff again as it is applied, for logs of the apply itself.
        if (a.diff && !a.json && e.kind === 'changed' && e.item.change?.diff) {
          stdout.write(`[${h}] ${e.item.item.resource.type} ${e.item.item.resource.id}\n${unifiedDiff(e.item.change.diff, tty)}\n`);
        }
      },
      hostDone: p.hostDone,
    });
    await p.close();
    return finish(true);
  } finally {
    await closeAll(session);
  }
}
