import { writeFileSync } from 'node:fs';
import { stdout } from 'node:process';
import { closeAll } from '../engine/run.ts';
import { readPlanFile, type PlanFile } from '../plan-file/format.ts';
import { planInputs, registerLikelySecrets } from '../plan-file/inputs.ts';
import { hostRecords, makePlanFile } from '../plan-file/make.ts';
import { renderPlanMarkdown } from '../ui/plan-markdown.ts';
import { planTotals, renderPlanFileText } from '../ui/plan-text.ts';
import { colourOn } from '../ui/color.ts';
import { SecretRegistry } from '../secrets/registry.ts';
import { buildRun, planRun, type RunInputs } from './run.ts';

export const FORMATS = ['json', 'markdown', 'text'] as const;
export type PlanFormat = (typeof FORMATS)[number];

export interface PlanArgs extends RunInputs {
  output?: string;
  format?: PlanFormat;
  forks: number;
  detailedExitcode: boolean;
}

/** -o plan.md → markdown, plan.txt → text, anything else → json (the form `apply` reads); no -o → text. */
export function formatFor(output: string | undefined): PlanFormat {
  if (!output) return 'text';
  if (/\.(md|markdown)$/i.test(output)) return 'markdown';
  if (/\.txt$/i.test(output)) return 'text';
  return 'json';
}

export function renderAs(pf: PlanFile, format: PlanFormat, colour: boolean, secrets: SecretRegistry): string {
  if (format === 'markdown') return renderPlanMarkdown(pf, secrets);
  if (format === 'text') return renderPlanFileText(pf, colour, secrets);
  // Already masked field by field (makePlanFile): masking the text again could cut into a digest.
  return JSON.stringify(pf, null, 2) + '\n';
}

/**
 * `mxplay plan`: the planning of `run --check`, kept as a file to review and to apply later.
 * Exit codes: 0 planned, 1 input error or a host that could not be planned, 2 changes pending (--detailed-exitcode).
 */
export async function planCommand(a: PlanArgs): Promise<number> {
  const built = await buildRun(a, a.forks);
  registerLikelySecrets(built.inventory, a.extraVars, a.secrets);
  const inputs = planInputs(built.playbook, built.inventory, a, a.secrets);
  // Stdout is the plan itself without -o: progress then goes to stderr as plain lines.
  const planned = await planRun(built, a.forks, { live: !!stdout.isTTY && !!a.output, quiet: false });
  try {
    const hosts = built.works.map((w) => w.host.name);
    const pf = makePlanFile(inputs, hostRecords(hosts, planned.plans, planned.failedEarly, a.secrets), a.secrets);
    const format = a.format ?? formatFor(a.output);
    if (a.output) {
      writeFileSync(a.output, renderAs(pf, format, false, a.secrets));
      stdout.write(`${planTotals(pf.summary)}; written to ${a.output}${format === 'json' ? ` (review: mxplay show ${a.output}; apply: mxplay apply ${a.output})` : ''}\n`);
    } else {
      stdout.write(renderAs(pf, format, format === 'text' && colourOn(), a.secrets));
    }
    if (pf.summary.failed) return 1;
    return a.detailedExitcode && pf.summary.changes > 0 ? 2 : 0;
  } finally {
    await closeAll(planned.session);
  }
}

/** `mxplay show plan.json`: a saved plan rendered for a terminal, a merge request, or as JSON. */
export function showCommand(a: { plan: string; format?: PlanFormat }): number {
  const pf = readPlanFile(a.plan);
  // A saved plan holds no secret: it was masked when it was made.
  stdout.write(renderAs(pf, a.format ?? 'text', (a.format ?? 'text') === 'text' && colourOn(), new SecretRegistry()));
  return 0;
}
