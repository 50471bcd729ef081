// The Hydrogen page of test/fixtures/hydrogen, built at test time into a release tarball shaped like
// Element web's (one top folder with index.html), so that the element_web role installs it and the
// proxy role serves it: the browser meets the web client exactly where users would.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = join(ROOT, 'test', 'fixtures', 'hydrogen');
const SDK = join(ROOT, 'node_modules', 'hydrogen-view-sdk');
const OLM = join(ROOT, 'node_modules', '@matrix-org', 'olm');

export interface Release {
  tarball: string;
  sha256: string;
  /** Files in the release, relative to its top folder. */
  files: string[];
}

/** Bundles the page and packs it with the SDK's assets, its service worker and olm into DIR/NAME.tar.gz. */
export async function buildHydrogenRelease(dir: string, name: string): Promise<Release> {
  const top = join(dir, 'src', name);
  await mkdir(join(top, 'olm'), { recursive: true });
  // The SDK's browser build imports bare package names and mentions Node modules it never loads
  // in a browser: bundle, and leave those out.
  await build({
    entryPoints: [join(FIXTURE, 'main.ts')],
    outfile: join(top, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    external: ['fs', 'path', 'crypto'],
    target: 'es2020',
    logLevel: 'silent',
  });
  await copyFile(join(FIXTURE, 'index.html'), join(top, 'index.html'));
  // Theme CSS, fonts, icons, the download sandbox and the legacy worker, under assets/ as the CSS expects.
  await cp(join(SDK, 'asset-build', 'assets'), join(top, 'assets'), { recursive: true });
  // At the root: a service worker's scope is its own folder, and it must cover the page.
  await copyFile(join(SDK, 'lib-build', 'sw.js'), join(top, 'sw.js'));
  for (const f of ['olm.js', 'olm.wasm', 'olm_legacy.js']) await copyFile(join(OLM, f), join(top, 'olm', f));

  const tarball = join(dir, `${name}.tar.gz`);
  await promisify(execFile)('tar', ['-czf', tarball, '-C', dirname(top), name]);
  const { stdout } = await promisify(execFile)('tar', ['-tzf', tarball]);
  const files = stdout.split('\n').filter((l) => l && !l.endsWith('/')).map((l) => l.slice(name.length + 1));
  return { tarball, sha256: createHash('sha256').update(await readFile(tarball)).digest('hex'), files };
}
