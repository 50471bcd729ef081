import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, SCHEMA_DIR } from '../../../scripts/json-schemas.ts';
import { planFileSchema } from '../../../src/plan-file/format.ts';
import { runReportSchema } from '../../../src/plan-file/run-format.ts';
import { runJson, saved } from './one-plan.ts';

describe('docs/schema: the JSON Schemas of the plan file and of run --json', () => {
  for (const [name, text] of Object.entries(jsonSchemas())) {
    it(`${name} is what the zod schema makes (else: npx tsx scripts/json-schemas.ts)`, () => {
      expect(readFileSync(join(SCHEMA_DIR, name), 'utf8')).toBe(text);
    });
  }
});

describe('real documents are what their schemas say, no field left over', () => {
  it('a plan file as plan -o writes it', () => {
    const doc = JSON.parse(saved);
    expect(planFileSchema.parse(doc)).toEqual(doc);
  });
  it('a run --json document as run prints it', () => {
    const doc = JSON.parse(runJson);
    expect(runReportSchema.parse(doc)).toEqual(doc);
  });
});
