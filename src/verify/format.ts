import { z } from 'zod';
import { MXPLAY_VERSION } from '../paths.ts';
import type { Same } from '../plan-file/run-format.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import type { VerifyResult } from './run.ts';

/** verify --json's format name: numbered by the same rule as the plan file's. */
export const VERIFY_FORMAT = 'mxplay-verify/1';

export const verifyResultSchema = z
  .object({
    host: z.string(),
    role: z.string().describe('the role that declared the check'),
    what: z.string(),
    where: z.string().describe('the URL, address or name asked'),
    ok: z.boolean(),
    detail: z.string().describe('what it answered, or what broke'),
    ms: z.number().int().nonnegative(),
  })
  .meta({ id: 'VerifyResult' });

const resultIsTheRunners: Same<z.infer<typeof verifyResultSchema>, VerifyResult> = true;
void resultIsTheRunners;

export const verifyReportSchema = z
  .object({
    format: z.literal(VERIFY_FORMAT),
    mxplay: z.string(),
    ok: z.boolean().describe('every check passed'),
    results: z.array(verifyResultSchema),
  })
  .meta({ title: 'mxplay verify --json', description: `The output of mxplay verify --json, format ${VERIFY_FORMAT}.` });

export type VerifyReport = z.infer<typeof verifyReportSchema>;

export function verifyReport(results: VerifyResult[], secrets: SecretRegistry): VerifyReport {
  return secrets.maskStrings({ format: VERIFY_FORMAT, mxplay: MXPLAY_VERSION, ok: results.every((r) => r.ok), results });
}
