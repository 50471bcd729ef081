// Bundles the CLI and the built-in roles into dist/ (run by `npm ci` through `prepare`).
// Why: loading one bundled file takes a fraction of the time of compiling and resolving the
// TypeScript module graph at every start, and start-up is paid on every run.
import { build } from 'esbuild';
import { readdirSync, existsSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

// zod's error messages in 50 languages are 400 kB of the code every run compiles; mxplay's are
// English, so z.locales keeps only en.
const englishOnlyZod = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: dirname(args.path),
    }));
  },
};

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'linked', logLevel: 'warning' };

// Built aside and swapped in, so a CLI started meanwhile never sees a half-written dist/.
const out = `dist.build-${process.pid}`;
const cli = await build({
  ...common,
  plugins: [englishOnlyZod],
  // Which source went into which output file: the test that --help, roles and inventory load no
  // SSH code reads it (test/e2e/cli-startup.e2e.test.ts).
  metafile: true,
  // Two entries sharing chunks: cli.mjs is the command line alone (help and parse errors load
  // nothing else); mxplay.mjs is the API roles import. Each command's work (ssh2 among it) is a
  // chunk loaded when the command runs.
  entryPoints: { mxplay: 'src/bundle.ts', cli: 'src/cli/main.ts' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  // tsx and esbuild run their own binaries and loaders: they stay packages. ssh2 is bundled (its
  // module resolution alone cost ~50 ms per start); its optional native add-ons stay outside, and
  // ssh2 falls back to its JavaScript crypto when they are not built, as it does unbundled.
  external: ['tsx', 'esbuild', 'cpu-features', '*.node'],
  // CommonJS inside the bundle (ssh2's WebAssembly loader among it) expects these.
  banner: {
    js: [
      "import { createRequire as __mxpCreateRequire } from 'node:module';",
      "import { dirname as __mxpDirname } from 'node:path';",
      "import { fileURLToPath as __mxpFileURLToPath } from 'node:url';",
      'const require = __mxpCreateRequire(import.meta.url);',
      'const __filename = __mxpFileURLToPath(import.meta.url);',
      'const __dirname = __mxpDirname(__filename);',
    ].join(' '),
  },
});

// Built-in roles, each its own module importing the one shared 'mxplay' API (same instance:
// the secret registry and the role types live there).
const roles = readdirSync('roles').filter((n) => existsSync(join('roles', n, 'role.ts')));
await build({
  ...common,
  entryPoints: Object.fromEntries(roles.map((n) => [n, join('roles', n, 'role.ts')])),
  outdir: join(out, 'roles'),
  outExtension: { '.js': '.mjs' },
  packages: 'external',
});

writeFileSync(join(out, 'meta.json'), JSON.stringify({ outputs: Object.fromEntries(Object.entries(cli.metafile.outputs).map(([file, o]) => [file.slice(out.length + 1), Object.keys(o.inputs)])) }));

// The help texts, for bin/mxplay.js to print `--help` and `--version` without loading commander.
const { helpTexts } = await import(pathToFileURL(join(out, 'cli.mjs')).href);
writeFileSync(join(out, 'help.json'), JSON.stringify(helpTexts()));

const old = `dist.old-${process.pid}`;
if (existsSync('dist')) renameSync('dist', old);
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });
