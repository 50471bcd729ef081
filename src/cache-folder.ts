// mxplay's caches of things it would otherwise redo at every start (snippets sh -n passed, the
// function EJS makes of a template): each a folder under `${XDG_CACHE_HOME:-~/.cache}/mxplay`.
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Per folder, looked up once each. */
const checked = new Map<string, string | undefined>();

/**
 * `${XDG_CACHE_HOME:-~/.cache}/mxplay/<parts>`, made 0700; undefined when it cannot be made, or when
 * it or a folder above it up to mxplay/ is not the user's own or others can write to it: what is
 * cached there is trusted (run, or taken for checked), so only the user may have put it there.
 */
export function privateCacheFolder(...parts: string[]): string | undefined {
  const root = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mxplay');
  const dir = join(root, ...parts);
  if (!checked.has(dir)) checked.set(dir, madePrivate(root, dir));
  return checked.get(dir);
}

function madePrivate(root: string, dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = process.getuid?.();
    for (let d = dir; ; d = dirname(d)) {
      const st = lstatSync(d);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || st.mode & 0o022) return undefined;
      if (d === root || d === dirname(d)) return dir;
    }
  } catch {
    return undefined;
  }
}
