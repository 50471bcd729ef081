// `npm run test:mutation [FOLDER...]`: Stryker on each folder of the pure core, with that folder's
// own unit tests, then the score per folder (scripts/mutation-scores.ts). Not part of `npm test`:
// it runs the tests once per mutant. Reports: reports/mutation/FOLDER.json and .html.
import { spawnSync } from 'node:child_process';

/** Folder of src/ → the unit tests that are its own. */
const FOLDERS: Record<string, string[]> = {
  resources: ['test/unit/resources/**/*.test.ts'],
  secrets: ['test/unit/secrets/**/*.test.ts', 'test/unit/config/**/*.test.ts'],
  inventory: ['test/unit/inventory/**/*.test.ts'],
  playbook: ['test/unit/playbook/**/*.test.ts'],
  'plan-file': ['test/unit/plan-file/**/*.test.ts'],
};

const asked = process.argv.slice(2);
for (const f of asked) if (!(f in FOLDERS)) throw new Error(`unknown folder ${f}: one of ${Object.keys(FOLDERS).join(', ')}`);
const reports: string[] = [];
for (const folder of asked.length ? asked : Object.keys(FOLDERS)) {
  const report = `reports/mutation/${folder}`;
  const r = spawnSync(
    'npx',
    ['stryker', 'run', '--mutate', `src/${folder}/**/*.ts`],
    { stdio: 'inherit', env: { ...process.env, MXP_MUTATION_TESTS: FOLDERS[folder]!.join(','), MXP_MUTATION_REPORT: report } },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  reports.push(`${report}.json`);
}
spawnSync('npx', ['tsx', 'scripts/mutation-scores.ts', ...reports], { stdio: 'inherit' });
