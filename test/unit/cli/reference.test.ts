import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliReference, withReference } from '../../../src/cli/reference.ts';

describe("the README's CLI reference", () => {
  it('is the help the CLI prints today (else: npx tsx scripts/cli-reference.ts)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(withReference(readme, cliReference())).toBe(readme);
  });

  it('holds every command', () => {
    for (const c of ['run', 'plan', 'show', 'apply', 'inventory', 'roles', 'completion']) expect(cliReference()).toContain(`Usage: mxplay ${c} `);
  });
});
