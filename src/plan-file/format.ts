import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { MXPLAY_VERSION } from '../paths.ts';
import { PLAN_FORMAT } from './formats.ts';

const digest = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest');
const action = z.enum(['+', '~', '-', '?']).describe("+ create, ~ change, - remove, ? known only once an earlier change is applied (the summary says which)");

/**
 * One change as a reviewer reads it, in every output of a plan. A secret file's content is neither
 * shown nor stored: the plan file keeps only its fingerprint (`content`). The whole texts
 * (`path`, `before`, `after`) are in run --json only: a plan file would double in size.
 */
export const changeSchema = z
  .object({
    action,
    type: z.string().describe('resource type: file, template, apt, service, ...'),
    id: z.string().describe('what the resource is about: a path, a package, a unit, ...'),
    role: z.string(),
    summary: z.string().describe('the change in words; for ?, what it waits for'),
    diff: z.string().optional().describe('unified diff of the file, secrets masked'),
    secret: z.literal(true).optional().describe('the whole content is secret: changed, not shown'),
    content: digest.optional().describe('plan file only: keyed fingerprint of a secret file\'s new content, checked at apply'),
    path: z.string().optional().describe('run --json only: the file the change writes'),
    before: z.string().nullable().optional().describe('run --json only: the file\'s text now, secrets masked; null: no such file'),
    after: z.string().nullable().optional().describe('run --json only: the file\'s text once applied, secrets masked; null: removed'),
  })
  .meta({ id: 'PlanChange' });

/** A host as every output shows it: its changes and pending handlers, or why it has none. */
export const hostViewSchema = z
  .object({
    host: z.string(),
    status: z.enum(['planned', 'failed', 'unreachable']),
    message: z.string().optional().describe('why a host could not be planned'),
    pendingHandlers: z.array(z.string()).describe('handlers notified by an earlier run that did not get to run them: they run with this one'),
    changes: z.array(changeSchema).describe('every resource that changes (or may: ?), in the order they apply'),
  })
  .meta({ id: 'PlanHostView' });

/**
 * Every resource of a host, changed or not, with fingerprints of the state it was planned from and
 * of the change planned (its action, summary and script): the apply recomputes both and compares.
 */
const resource = z.object({
  play: z.number().int().nonnegative(),
  role: z.string(),
  type: z.string(),
  id: z.string(),
  state: digest,
  planned: z.enum(['ok', '+', '~', '-', '?']),
  change: digest.optional(),
});

const host = hostViewSchema
  .extend({ resources: z.array(resource).describe('every resource with fingerprints of its probed state and planned change: apply refuses if one differs') })
  .meta({ id: 'PlanHost' });

/** The totals line of every output: "Plan: N changes on M hosts". */
export const summarySchema = z
  .object({
    changes: z.number().int().nonnegative().describe('changes and pending handlers of the planned hosts'),
    hosts: z.number().int().nonnegative().describe('planned hosts with at least one change'),
    failed: z.number().int().nonnegative().describe('hosts that could not be planned (failed or unreachable)'),
  })
  .meta({ id: 'PlanSummary' });

/** An -e argument as given, or only the key of one whose value is a secret (given again at apply). */
const extraVar = z.union([z.string(), z.object({ key: z.string(), secret: z.literal(true) })]);

const inputs = z.object({
  playbook: z.string(),
  inventory: z.union([z.string(), z.array(z.string())]).describe('several -i: a list'),
  limit: z.string().optional(),
  tags: z.array(z.string()).optional(),
  skipTags: z.array(z.string()).optional(),
  extraVars: z.array(extraVar).describe('-e as given; a secret one by its key only'),
  files: z.array(z.object({ path: z.string(), sha256: digest })).describe('every file the build read, relative to the folder the plan was made in; digests taken with secrets masked'),
  secrets: digest.describe('keyed digest of every secret value of the run: tells whether one changed, reveals none'),
});

export const planFileSchema = z
  .object({
    format: z.literal(PLAN_FORMAT),
    mxplay: z.string().describe('the mxplay version that made it: only that version applies it'),
    created: z.string(),
    inputs,
    summary: summarySchema,
    hosts: z.array(host),
  })
  .meta({ title: 'mxplay plan file', description: `A saved plan (mxplay plan -o plan.json), format ${PLAN_FORMAT}: reviewed with mxplay show, applied with mxplay apply.` });

export type PlanFile = z.infer<typeof planFileSchema>;
export type PlanHost = z.infer<typeof host>;
export type PlanChange = z.infer<typeof changeSchema>;
export type PlanHostView = z.infer<typeof hostViewSchema>;
export type PlanSummary = z.infer<typeof summarySchema>;
export type PlanResource = z.infer<typeof resource>;
export type PlanInputs = z.infer<typeof inputs>;
export type PlanExtraVar = z.infer<typeof extraVar>;

/** Read and check a saved plan: every problem names the file; another version's plan is refused. */
export function parsePlanFile(text: string, file: string): PlanFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`not a plan file (not JSON: ${(e as Error).message})`, { file });
  }
  const format = (data as { format?: unknown })?.format;
  if (format !== PLAN_FORMAT) {
    throw new UserError(`not an mxplay plan of format ${PLAN_FORMAT} (format: ${JSON.stringify(format ?? null)})`, { file });
  }
  const r = planFileSchema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UserError(`damaged plan: ${i.path.join('.')}: ${i.message}`, { file });
  }
  if (r.data.mxplay !== MXPLAY_VERSION) {
    throw new UserError(`made by mxplay ${r.data.mxplay}, this is mxplay ${MXPLAY_VERSION}: make a new plan with this version`, { file });
  }
  return r.data;
}

export function readPlanFile(file: string): PlanFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the plan: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  return parsePlanFile(text, file);
}
