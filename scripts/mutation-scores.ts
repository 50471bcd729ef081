// Mutation score per folder of the core, from Stryker's JSON reports given as arguments
// (`npm run test:mutation` writes them); Stryker itself prints a score per file and one in all.
// Score as Stryker counts it: (killed + timeout) / (killed + timeout + survived + no coverage).
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

interface Report { files: Record<string, { mutants: { status: string }[] }> }

const reports = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Report);
const folders = new Map<string, Record<string, number>>();
for (const [file, { mutants }] of reports.flatMap((r) => Object.entries(r.files))) {
  const folder = dirname(file).replace(/^.*?\bsrc\//, 'src/');
  const counts = folders.get(folder) ?? {};
  for (const m of mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
  folders.set(folder, counts);
}

const n = (c: Record<string, number>, s: string) => c[s] ?? 0;
console.log('| folder | mutants | killed | timeout | survived | no coverage | score |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [folder, c] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
  const detected = n(c, 'Killed') + n(c, 'Timeout');
  const valid = detected + n(c, 'Survived') + n(c, 'NoCoverage');
  const score = valid ? ((100 * detected) / valid).toFixed(1) : '-';
  console.log(`| ${folder} | ${valid} | ${n(c, 'Killed')} | ${n(c, 'Timeout')} | ${n(c, 'Survived')} | ${n(c, 'NoCoverage')} | ${score}% |`);
}
