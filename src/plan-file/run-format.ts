import { z } from 'zod';
import type { HostResult } from '../engine/run.ts';
import { verifyResultSchema } from '../verify/format.ts';
import { hostViewSchema, summarySchema } from './format.ts';
import { RUN_FORMAT } from './formats.ts';

/** How one host ended, as the recap shows it. */
const resultSchema = z
  .object({
    host: z.string(),
    status: z.enum(['ok', 'changed', 'failed', 'unreachable', 'skipped']),
    ok: z.number().int().nonnegative().describe('resources already as wanted (and changes found unneeded when they came to run)'),
    changed: z.number().int().nonnegative(),
    skippedAtRun: z.array(z.string()).optional().describe('planned changes whose guard (creates/unless) held by the time they came to run'),
    message: z.string().optional().describe('why the host failed or was unreachable'),
    handlers: z.array(z.string()).describe('handlers that ran'),
    roundTrips: z.number().int().nonnegative(),
    connectRetries: z.number().int().positive().optional().describe('connection attempts retried after the server closed them before the SSH handshake (sshd MaxStartups); absent when none'),
    notes: z.array(z.object({ level: z.enum(['ok', 'warn', 'fail']), text: z.string() })).optional()
      .describe("lines the roles report about the host, read in its probe (the backup role's last backup, a failed backup); absent when none"),
    seconds: z.number().nonnegative(),
  })
  .meta({ id: 'HostResult' });

/** True when the two types are the same: a schema that drifts from its code's type fails the type check. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The schema is the engine's HostResult: a field added there and not here fails the type check. */
const resultIsTheEngines: Same<z.infer<typeof resultSchema>, HostResult> = true;
void resultIsTheEngines;

export const runReportSchema = z
  .object({
    format: z.literal(RUN_FORMAT),
    mxplay: z.string().describe('the mxplay version that ran'),
    check: z.boolean().describe('--check: a dry run, nothing applied'),
    applied: z.boolean().describe('whether the changes were applied (false: a dry run, nothing to do, not confirmed, or refused)'),
    refused: z.array(z.string()).optional().describe('apply only: why the saved plan no longer holds; nothing ran on any host'),
    summary: summarySchema,
    hosts: z.array(hostViewSchema).describe('the plan, per host, with the same records as the plan file'),
    results: z.array(resultSchema).describe('per host, how the run ended'),
    verify: z.array(verifyResultSchema).optional().describe('run --verify: the checks of mxplay verify, on the hosts that ended well'),
  })
  .meta({ title: 'mxplay run --json', description: `The output of mxplay run --json and mxplay apply --json, format ${RUN_FORMAT}.` });

export type RunReport = z.infer<typeof runReportSchema>;
