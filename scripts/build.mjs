// Bundles the CLI and the built-in roles into dist/ (run by `npm ci` through `prepare`).
// Why: loading one bundled file takes a fraction of the time of compiling and resolving the
// TypeScript module graph at every start, and start-up is paid on every run.
import { build } from 'esbuild';
import { readdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'linked', logLevel: 'warning' };

rmSync('dist', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { mxplay: 'src/bundle.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
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
  outdir: 'dist/roles',
  outExtension: { '.js': '.mjs' },
  packages: 'external',
});
