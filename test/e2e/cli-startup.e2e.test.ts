import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
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

  /** The sources of the bundle a command loaded. */
  function loadedSources(args: string[]): string[] {
    const log = join(dir, `${args.join('_').replace(/\W/g, '_')}.log`);
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), BIN, ...args], { cwd: ROOT, env: { ...process.env, MXPLAY_LOAD_LOG: log }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
    expect(files.length).toBeGreaterThan(0);
    return files.flatMap((f) => meta.outputs[f] ?? []);
  }

  it('the build records where ssh2 went (else this test could not fail)', () => {
    expect(Object.values(meta.outputs).flat().some((s) => s.includes('node_modules/ssh2/'))).toBe(true);
  });

  it.each([[['--help']], [['run', '--help']], [['--version']], [['roles']], [['roles', 'synapse']], [['inventory', '-i', 'lab']], [['run', 'site.yml', '-i', 'lab', '--list-tasks']]])(
    'mxplay %j',
    (args) => {
      const sources = loadedSources(args);
      expect(sources.filter((s) => s.includes('node_modules/ssh2/') || s.includes('node_modules/node-ssh/') || s.endsWith('src/transport/ssh.ts'))).toEqual([]);
    },
  );

  it('--help loads nothing but the command line', () => {
    const sources = loadedSources(['--help']);
    expect(sources.filter((s) => s.startsWith('src/')).sort()).toEqual(['src/cli/main.ts', 'src/cli/program.ts', 'src/paths.ts']);
  });
});
