// A user's role.ts, compiled once with esbuild into a cached module and imported from there.
// Why: registering tsx's loader costs ~150 ms at every start (its hooks run in a worker that
// every import then waits on); a cached module imports in a few ms. The cache entry lists every
// source file the build read, and is rebuilt when one of them changed.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheRoot, notPrivate, pruneUnused } from '../cache-folder.ts';
import { importFile } from '../import-file.ts';

interface Entry {
  /** source file → "mtimeMs:size" when it was compiled */
  inputs: Record<string, string>;
}

/**
 * Makes `dir` (mode 0700 when it is new) and checks that nobody else can put code in it (folders
 * above it up to `upTo` included): the modules cached there are imported and run.
 */
export function ensurePrivateDir(dir: string, upTo = dir): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const why = notPrivate(dir, upTo);
  if (why) throw new Error(`refusing to use ${dir} as the cache of compiled roles: ${why} (its modules are run); remove it, or set XDG_CACHE_HOME to a private folder`);
}

function cacheDir(): string {
  const root = cacheRoot();
  for (const [d, upTo] of [[join(root, 'roles'), root], [join(tmpdir(), `mxplay-roles-${process.getuid?.() ?? 'u'}`)]] as const) {
    try {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    } catch {
      continue; // not writable: try the next
    }
    ensurePrivateDir(d, upTo); // one that exists but is not private is an error, not a reason to fall back
    return d;
  }
  throw new Error('no writable cache folder for compiled roles');
}

const stamp = (file: string) => {
  try {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
};

function fresh(entryFile: string): boolean {
  try {
    const e = JSON.parse(readFileSync(entryFile, 'utf8')) as Entry;
    return Object.entries(e.inputs).every(([f, s]) => stamp(f) === s);
  } catch {
    return false;
  }
}

/**
 * The file URL of `file` compiled to one ES module: 'mxplay' imports the running API module
 * (`apiFile`), other packages are imported from where they resolve for the role, the role's own
 * files are bundled in.
 */
export async function compiledRole(file: string, apiFile: string): Promise<string> {
  const dir = cacheDir();
  const key = createHash('sha256').update(`${file}\0${apiFile}\0${stamp(apiFile)}`).digest('hex').slice(0, 32);
  const out = join(dir, `${key}.mjs`);
  const entry = join(dir, `${key}.json`);
  if (fresh(entry)) return pathToFileURL(out).href;

  const { build } = await importFile<typeof import('esbuild')>('esbuild');
  const builtins = new Set(builtinModules);
  let result;
  try {
    result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Beside the module, not inline: Node leaves source maps off (parsing one costs every start
      // ~10 ms); an error's stack is mapped through it only when printed (src/stack-trace.ts).
      sourcemap: 'linked',
      outfile: out,
      logLevel: 'silent',
      absWorkingDir: '/',
      // The role's own URL, not the cache file's: files beside role.ts (templates/) are found
      // from it, whether the role runs compiled, prebuilt or from source.
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(file).href) },
      plugins: [{
        name: 'mxplay-externals',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, async (args) => {
            if (args.pluginData === 'inner' || builtins.has(args.path) || args.path.startsWith('node:') || isAbsolute(args.path)) return undefined;
            if (args.path === 'mxplay') return { path: apiFile, external: true };
            // A package stays a package (one instance, shared with mxplay), at the path it resolves to.
            const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'inner' });
            return r.errors.length ? { errors: r.errors } : { path: r.path, external: true };
          });
        },
      }],
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
    const first = errors?.[0];
    if (!first) throw e;
    const where = first.location ? `${resolve('/', first.location.file)}:${first.location.line}:${first.location.column + 1}: ` : '';
    throw new Error(`${where}${first.text}`);
  }
  const inputs = Object.fromEntries(Object.keys(result.metafile!.inputs).map((f) => resolve('/', f)).map((f) => [f, stamp(f)]));
  // Written aside and renamed: a run started meanwhile never imports half a file.
  const written = (f: string) => {
    const o = result.outputFiles!.find((x) => x.path === f);
    if (!o) throw new Error(`esbuild wrote no ${f}`);
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, o.contents);
    renameSync(tmp, f);
  };
  written(`${out}.map`);
  written(out);
  writeFileSync(`${entry}.${process.pid}.tmp`, JSON.stringify({ inputs } satisfies Entry));
  renameSync(`${entry}.${process.pid}.tmp`, entry);
  pruneUnused(dir);
  return pathToFileURL(out).href;
}
