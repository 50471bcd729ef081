import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { helpTexts } from '../../src/cli/help-texts.ts';
import { BIN } from './helpers/mxplay.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mxplay-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mxplay(bin: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, encoding: 'utf8' });
}

/**
 * The help texts are printed by bin/mxplay.js from dist/help.json: here from a copy of the package
 * without its bundle, which every other command needs (the last test shows it).
 */
describe('help and version are answered without the bundle', () => {
  const pkg = join(dir, 'package');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist/help.json'), join(pkg, 'dist/help.json'));
  const bin = join(pkg, 'bin/mxplay.js');

  // The texts the build kept: the ones commander makes now.
  const texts = helpTexts();
  it.each([
    [['--help'], ''],
    [['-h'], ''],
    [['help'], ''],
    [['--version'], '--version'],
    [['-V'], '--version'],
    ...Object.keys(texts).filter((k) => k && k !== '--version').flatMap((k) => [[[k, '--help'], k], [[k, '-h'], k], [['help', k], k]] as [string[], string][]),
  ])('mxplay %j', (args, key) => {
    const r = mxplay(bin, args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(texts[key]);
  });

  it('(a command that needs the bundle fails in that copy)', () => {
    const r = mxplay(bin, ['roles']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`mxplay is not built: ${join(pkg, 'dist/mxplay.cjs')} is missing. Run \`npm ci\` (or \`npm run build\`) in ${pkg}.\n`);
  });
});

describe("the bundle runs from the user's code cache", () => {
  it('the first command writes it, the next runs from it untouched, with the same answer', () => {
    const cacheHome = join(dir, 'cache');
    const codeDir = join(cacheHome, 'mxplay', 'code');
    const first = mxplay(BIN, ['roles'], { XDG_CACHE_HOME: cacheHome });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('synapse');
    const files = readdirSync(codeDir);
    expect(files).toEqual([expect.stringMatching(/\.v8cache$/)]);
    const before = statSync(join(codeDir, files[0]!));
    const second = mxplay(BIN, ['roles'], { XDG_CACHE_HOME: cacheHome });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // A start that could not use it would have written it again (bin/code-cache.js).
    const after = statSync(join(codeDir, files[0]!));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });
});
