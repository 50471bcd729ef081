import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The mxplay package folder, found from this module whether it runs from src/ or from dist/. */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === 'mxplay') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('mxplay: cannot find the package folder');
    dir = up;
  }
})();

/** The version of this mxplay: its package.json's. */
export const mxplayVersion = (): string => JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
