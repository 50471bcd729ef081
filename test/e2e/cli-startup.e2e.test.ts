import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { helpTexts } from '../../src/cli/help-texts.ts';
import { BIN } from './helpers/mxplay.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the built CLI loads for a command: a module hook records every file, and the build's
 * metafile says which sources each output file holds. Help and the offline commands must not pay
 * for ssh2 (its module set alone is a large part of a start).
 */
describe('commands that reach no host load no SSH code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxplay-startup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hooks.mjs'), "import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  appendFileSync(process.env.MXPLAY_LOAD_LOG, url + '\\n');\n  return next(url, context);\n}\n");
  writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/meta.json'), 'utf8')) as { outputs: Record<string, string[]> };

  /** The files of the bundle a command loaded, its exit code and output. */
  function loaded(args: string[]) {
    const log = join(dir, `${args.join('_').replace(/\W/g, '_')}.log`);
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), BIN, ...args], { cwd: ROOT, env: { ...process.env, MXPLAY_LOAD_LOG: log }, encoding: 'utf8' });
    const files = readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
    return { files, status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** The sources of the bundle a command that succeeds loaded. */
  function loadedSources(args: string[]): string[] {
    const r = loaded(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.files.length).toBeGreaterThan(0);
    return r.files.flatMap((f) => meta.outputs[f] ?? []);
  }

  it('the build records where ssh2 went (else this test could not fail)', () => {
    expect(Object.values(meta.outputs).flat().some((s) => s.includes('node_modules/ssh2/'))).toBe(true);
  });

  it.each([[['roles']], [['roles', 'synapse']], [['inventory', '-i', 'lab']], [['run', 'site.yml', '-i', 'lab', '--list-tasks']]])('mxplay %j', (args) => {
    const sources = loadedSources(args);
    expect(sources.filter((s) => s.includes('node_modules/ssh2/') || s.includes('node_modules/node-ssh/') || s.endsWith('src/transport/ssh.ts'))).toEqual([]);
  });

  it('a mistyped option loads only the command line', () => {
    const r = loaded(['run', 'site.yml', '--chek']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Did you mean --check?');
    expect(r.files.flatMap((f) => meta.outputs[f] ?? []).filter((s) => s.startsWith('src/')).sort()).toEqual(['src/cli/help-texts.ts', 'src/cli/main.ts', 'src/cli/program.ts', 'src/paths.ts']);
  });

  // The help texts the build kept, printed without loading the bundle: the ones commander makes now.
  const texts = helpTexts();
  it.each([
    [['--help'], ''],
    [['-h'], ''],
    [['help'], ''],
    [['--version'], '--version'],
    [['-V'], '--version'],
    ...Object.keys(texts).filter((k) => k && k !== '--version').flatMap((k) => [[[k, '--help'], k], [[k, '-h'], k], [['help', k], k]] as [string[], string][]),
  ])('mxplay %j prints the built help without loading the bundle', (args, key) => {
    const r = loaded(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(texts[key]);
    expect(r.files).toEqual([]);
  });
});
