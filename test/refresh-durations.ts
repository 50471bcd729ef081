// Rewrites test/durations.json (the sequencer's order on a fresh clone) from the timings vitest kept
// of its last runs: run it after a full `npm test`. Seconds, rounded; files no longer there dropped.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const out = new URL('test/durations.json', root);
const cacheDir = new URL('node_modules/.vite/vitest/', root);
const seconds: Record<string, number> = {};
for (const dir of existsSync(cacheDir) ? readdirSync(cacheDir) : []) {
  const file = new URL(`${dir}/results.json`, cacheDir);
  if (!existsSync(file)) continue;
  const { results } = JSON.parse(readFileSync(file, 'utf8')) as { results: [string, { duration: number; failed: boolean }][] };
  for (const [key, r] of results) {
    const path = key.replace(/^e2e:/, '');
    if (path !== key && !r.failed && existsSync(new URL(path, root))) seconds[path] = Math.max(1, Math.round(r.duration / 1000));
  }
}
const old = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
const kept = Object.entries(old).filter(([k, v]) => k !== '//' && typeof v === 'number' && !(k in seconds) && existsSync(new URL(k, root)));
const rows = [...kept, ...Object.entries(seconds)].sort(([, a], [, b]) => (b as number) - (a as number));
writeFileSync(out, `${JSON.stringify({ '//': old['//'], ...Object.fromEntries(rows) }, null, 2)}\n`);
console.log(`${out.pathname}: ${rows.length} e2e files`);
