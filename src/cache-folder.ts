// mxplay's caches of things it would otherwise redo at every start (compiled roles, snippets sh -n
// passed, the function EJS makes of a template): each a folder under
// `${XDG_CACHE_HOME:-~/.cache}/mxplay`, trusted (what is kept there is run, or taken for checked),
// so only the user may write there; and pruned, so that they do not grow for ever.
import { lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const cacheRoot = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mxplay');

/**
 * Why `dir` (and each folder above it up to `upTo`) is not fit to hold what mxplay runs, or
 * undefined when it is: each must be a folder of the current user that its group and others cannot
 * write; a symbolic link on the way must be the user's own (someone else's could be re-pointed).
 */
export function notPrivate(dir: string, upTo = dir): string | undefined {
  const uid = process.getuid?.();
  for (let d = dir; ; d = dirname(d)) {
    const why = folderProblem(d, uid);
    if (why) return d === dir ? why : `${d}, a folder above it: ${why}`;
    if (d === upTo || d === dirname(d)) return undefined;
  }
}

function folderProblem(d: string, uid: number | undefined): string | undefined {
  const link = lstatSync(d);
  if (link.isSymbolicLink() && uid !== undefined && link.uid !== uid) return `it is a symbolic link of uid ${link.uid}, not yours (uid ${uid})`;
  const s = link.isSymbolicLink() ? statSync(d) : link;
  if (!s.isDirectory()) return 'it is not a folder';
  if (uid !== undefined && s.uid !== uid) return `it belongs to uid ${s.uid}, not to you (uid ${uid})`;
  if (s.mode & 0o022) return `its group or others can write to it (mode ${(s.mode & 0o777).toString(8).padStart(3, '0')})`;
  return undefined;
}

/** Per folder, looked up once each. */
const checked = new Map<string, string | undefined>();

/**
 * `<cache root>/<parts>`, made 0700; undefined when it cannot be made or is not private (then the
 * caller does without its cache).
 */
export function privateCacheFolder(...parts: string[]): string | undefined {
  const root = cacheRoot();
  const dir = join(root, ...parts);
  if (!checked.has(dir)) checked.set(dir, madePrivate(root, dir));
  return checked.get(dir);
}

function madePrivate(root: string, dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return notPrivate(dir, root) === undefined ? dir : undefined;
  } catch {
    return undefined;
  }
}

const DAY = 86_400_000;
/** Entries neither read nor written for this long are removed. */
export const UNUSED_FOR = 30 * DAY;
const STAMP = '.pruned';

/**
 * Removes the entries of a cache folder unused for {@link UNUSED_FOR}, at most once a day (the
 * time of the last sweep is the mtime of `.pruned`). Called when an entry is written, so a run that
 * only reads its caches pays nothing. An entry is its files sharing a name up to the first dot
 * (a compiled role's `.mjs`, `.mjs.map` and `.json`): removed together, when none was used, by its
 * last access or change (on a filesystem mounted `noatime`, that is 30 days after it was written:
 * it is then made again once, at its next use). A `.tmp` file a crashed writer left goes after a day.
 */
export function pruneUnused(dir: string, now = Date.now()): void {
  const stamp = join(dir, STAMP);
  try {
    if (now - statSync(stamp).mtimeMs < DAY) return;
  } catch {
    /* never swept */
  }
  try {
    writeFileSync(stamp, '', { mode: 0o600 });
    const lastUse = new Map<string, number>();
    const files: { name: string; key: string; used: number }[] = [];
    for (const name of readdirSync(dir)) {
      if (name === STAMP) continue;
      const s = lstatSync(join(dir, name));
      if (!s.isFile()) continue;
      const key = name.split('.')[0]!;
      const used = Math.max(s.atimeMs, s.mtimeMs);
      files.push({ name, key, used });
      if (!name.endsWith('.tmp')) lastUse.set(key, Math.max(lastUse.get(key) ?? 0, used));
    }
    for (const f of files) {
      const stale = f.name.endsWith('.tmp') ? now - f.used > DAY : now - lastUse.get(f.key)! > UNUSED_FOR;
      if (stale) rmSync(join(dir, f.name), { force: true });
    }
  } catch {
    /* a cache left as it is: tried again the next day */
  }
}
