// Writes the JSON Schemas of mxplay's JSON outputs, made from the zod schemas the code itself
// parses and checks with: docs/schema/plan.schema.json (the saved plan) and run.schema.json
// (run --json, apply --json). Run after changing either format: npx tsx scripts/json-schemas.ts
// (a unit test fails while the committed files are stale).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { planFileSchema } from '../src/plan-file/format.ts';
import { runReportSchema } from '../src/plan-file/run-format.ts';
import { verifyReportSchema } from '../src/verify/format.ts';

export const SCHEMA_DIR = fileURLToPath(new URL('../docs/schema/', import.meta.url));

// 'input': objects stay open (no additionalProperties: false), as the version rule wants: an
// optional field added within a format version must not make older validators reject a document.
const text = (schema: z.ZodType) => JSON.stringify(z.toJSONSchema(schema, { io: 'input' }), null, 2) + '\n';

/** Each schema file's name and text. */
export function jsonSchemas(): Record<string, string> {
  return { 'plan.schema.json': text(planFileSchema), 'run.schema.json': text(runReportSchema), 'verify.schema.json': text(verifyReportSchema) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, body] of Object.entries(jsonSchemas())) {
    writeFileSync(join(SCHEMA_DIR, name), body);
    process.stdout.write(`wrote docs/schema/${name}\n`);
  }
}
