// An error thrown in built code (the minified bundle, a compiled role) is reported at its source's file and line.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    const mapped = sourceMapped(stack);
    expect(mapped).toContain(`${src}:6:`);
    expect(mapped).not.toContain('bundle.cjs');
    // a frame of another file is kept as it was
    expect(mapped.split('\n').slice(2).join('\n')).toBe(stack.split('\n').slice(2).join('\n'));
  });

  it("an ES module's frames, written as file URLs (a compiled role), are mapped too", async () => {
    const src = join(dir, 'role.ts');
    writeFileSync(src, ['export const tasks = (): never => {', "  throw new Error('from the role');", '};', ''].join('\n'));
    const out = join(dir, 'compiled.mjs');
    await build({ entryPoints: [src], outfile: out, bundle: true, format: 'esm', platform: 'node', sourcemap: 'linked', logLevel: 'error' });
    const stack = execFileSync(process.execPath, ['--input-type=module', '-e', `import { tasks } from ${JSON.stringify(pathToFileURL(out).href)}; try { tasks() } catch (e) { process.stdout.write(e.stack) }`], { encoding: 'utf8' });
    expect(stack).toContain(`${pathToFileURL(out).href}:`);
    const mapped = sourceMapped(stack);
    expect(mapped).toContain(`${src}:2:`);
    expect(mapped).not.toContain('compiled.mjs');
  });

  it('a stack with no frame of built code, or built code with no map, is left as it is', () => {
    expect(sourceMapped('Error: x\n    at f (/elsewhere.js:1:2)')).toBe('Error: x\n    at f (/elsewhere.js:1:2)');
    const nomap = join(dir, 'nomap.cjs');
    writeFileSync(nomap, '');
    expect(sourceMapped(`Error: x\n    at f (${nomap}:1:2)`)).toBe(`Error: x\n    at f (${nomap}:1:2)`);
    writeFileSync(`${join(dir, 'badmap.cjs')}.map`, 'not json');
    expect(sourceMapped(`Error: x\n    at f (${join(dir, 'badmap.cjs')}:1:2)`)).toBe(`Error: x\n    at f (${join(dir, 'badmap.cjs')}:1:2)`);
  });
});
