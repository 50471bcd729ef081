import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { PACKAGE_ROOT } from '../paths.ts';

/** The saved plan's own format name: bumped whenever a reader of the old shape would misread it. */
export const PLAN_FORMAT = 'mxplay-plan/1';

export const MXPLAY_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

const digest = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest');
const action = z.enum(['+', '~', '-', '?']);

/** One change as a reviewer reads it. A secret file's content is neither shown nor stored: only its fingerprint. */
const change = z.object({
  action,
  type: z.string(),
  id: z.string(),
  role: z.string(),
  summary: z.string(),
  diff: z.string().optional(),
  secret: z.literal(true).optional(),
  content: digest.optional(),
});

/**
 * Every resource of a host, changed or not, with fingerprints of the state it was planned from and
 * of the change planned (its action, summary and script): the apply recomputes both and compares.
 */
const resource = z.object({
  play: z.number().int(),
  role: z.string(),
  type: z.string(),
  id: z.string(),
  state: digest,
  planned: z.enum(['ok', '+', '~', '-', '?']),
  change: digest.optional(),
});

const host = z.object({
  host: z.string(),
  status: z.enum(['planned', 'failed', 'unreachable']),
  message: z.string().optional(),
  pendingHandlers: z.array(z.string()),
  changes: z.array(change),
  resources: z.array(resource),
});

/** An -e argument as given, or only the key of one whose value is a secret (given again at apply). */
const extraVar = z.union([z.string(), z.object({ key: z.string(), secret: z.literal(true) })]);

const inputs = z.object({
  playbook: z.string(),
  inventory: z.union([z.string(), z.array(z.string())]), // several -i: a list
  limit: z.string().optional(),
  tags: z.array(z.string()).optional(),
  skipTags: z.array(z.string()).optional(),
  extraVars: z.array(extraVar),
  /** Every file the build read, relative to the folder the plan was made in; digests taken with secrets masked. */
  files: z.array(z.object({ path: z.string(), sha256: digest })),
  /** Keyed digest of every secret value of the run: tells whether one changed, reveals none. */
  secrets: digest,
});

export const planFileSchema = z.object({
  format: z.literal(PLAN_FORMAT),
  mxplay: z.string(),
  created: z.string(),
  inputs,
  summary: z.object({ changes: z.number().int(), hosts: z.number().int(), failed: z.number().int() }),
  hosts: z.array(host),
});

export type PlanFile = z.infer<typeof planFileSchema>;
export type PlanHost = z.infer<typeof host>;
export type PlanChange = z.infer<typeof change>;
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
