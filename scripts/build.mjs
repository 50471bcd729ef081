// Bundles the CLI and the built-in roles into dist/ (run by `npm ci` through `prepare`).
// Why: loading one bundled file takes a fraction of the time of compiling and resolving the
// TypeScript module graph at every start, and start-up is paid on every run.
import { build } from 'esbuild';
import { readdirSync, existsSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'linked', logLevel: 'warning' };

// Built aside and swapped in, so a CLI started meanwhile never sees a half-written dist/.
const out = `dist.build-${process.pid}`;
await build({
  ...common,
  entryPoints: { mxplay: 'src/bundle.ts' },
  outdir: out,
  outExtension: { '.js': '.mjs' },
  // ssh2 carries optional native add-ons, tsx its own loader: they stay packages.
  external: ['ssh2', 'node-ssh', 'tsx', 'esbuild', 'cpu-features'],
  banner: { js: "import { createRequire as __mxpCreateRequire } from 'node:module'; const require = __mxpCreateRequire(import.meta.url);" },
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

const old = `dist.old-${process.pid}`;
if (existsSync('dist')) renameSync('dist', old);
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });
