// An internal error thrown in a minified bundle is reported at its source's file and line.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceMapped } from '../../../src/stack-trace.ts';

describe('sourceMapped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxp-stack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("turns the bundle's positions into the source's, and leaves other frames alone", async () => {
    const src = join(dir, 'thrower.ts');
    writeFileSync(src, ['export function first(): number {', '  return 1;', '}', '', 'export function boom(): never {', "  throw new Error('boom');", '}', ''].join('\n'));
    const out = join(dir, 'bundle.cjs');
    await build({ entryPoints: [src], outfile: out, bundle: true, format: 'cjs', platform: 'node', minifyWhitespace: true, minifySyntax: true, sourcemap: 'linked', logLevel: 'error' });
    // In a Node of its own: this test's process maps stacks through source maps already.
    const stack = execFileSync(process.execPath, ['-e', `try { require(${JSON.stringify(out)}).boom() } catch (e) { process.stdout.write(e.stack) }`], { encoding: 'utf8' });
    expect(stack).toMatch(/bundle\.cjs:1:\d+/);
    const mapped = sourceMapped(stack, out);
    expect(mapped).toContain(`${src}:6:`);
    expect(mapped).not.toContain('bundle.cjs');
    // a frame of another file is kept as it was
    expect(mapped.split('\n').slice(2).join('\n')).toBe(stack.split('\n').slice(2).join('\n'));
  });

  it('a stack with no frame of the bundle, or a bundle with no map, is left as it is', () => {
    expect(sourceMapped('Error: x\n    at f (/elsewhere.js:1:2)', join(dir, 'bundle.cjs'))).toBe('Error: x\n    at f (/elsewhere.js:1:2)');
    const nomap = join(dir, 'nomap.cjs');
    writeFileSync(nomap, '');
    expect(sourceMapped(`Error: x\n    at f (${nomap}:1:2)`, nomap)).toBe(`Error: x\n    at f (${nomap}:1:2)`);
  });
});
