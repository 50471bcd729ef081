import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The mxplay package folder and its package.json, found from this module whether it runs from src/ or from dist/. */
const PACKAGE = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    const json = existsSync(pj) ? (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version: string }) : undefined;
    if (json?.name === 'mxplay') return { root: dir, version: json.version };
    const up = dirname(dir);
    if (up === dir) throw new Error('mxplay: cannot find the package folder');
    dir = up;
  }
})();

export const PACKAGE_ROOT: string = PACKAGE.root;

/** The version of this mxplay: its package.json's. */
export const MXPLAY_VERSION: string = PACKAGE.version;

/**
 * `~` and `~/…` read as the home folder, as Ansible's expanduser does: $HOME first, then the
 * account's home. (`~user/…` is left as written.)
 */
export function expandTilde(path: string): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return (process.env.HOME || homedir()) + path.slice(1);
}
