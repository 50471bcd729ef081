// `npm run test:mutation [FOLDER | FOLDER/FILE.ts ...]`: Stryker on each folder of the pure core
// (or one file of it), with that folder's own unit tests, then the score per folder
// (scripts/mutation-scores.ts). Not part of `npm test`: it runs the tests once per mutant.
// Reports: reports/mutation/NAME.json and .html (NAME: the folder, or folder-file for one file).
// MXP_MUTATION_CONCURRENCY=1 keeps it to one test process on a shared machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Folder of src/ → the unit tests that are its own. */
const FOLDERS: Record<string, string[]> = {
  // The facts script facts.ts builds is run by the engine's script tests (it is part of every probe).
  resources: ['test/unit/resources/**/*.test.ts', 'test/unit/engine/scripts-*.test.ts'],
  secrets: ['test/unit/secrets/**/*.test.ts', 'test/unit/config/**/*.test.ts'],
  inventory: ['test/unit/inventory/**/*.test.ts'],
  playbook: ['test/unit/playbook/**/*.test.ts'],
  'plan-file': ['test/unit/plan-file/**/*.test.ts'],
};

const asked = process.argv.slice(2);
for (const a of asked) {
  const [folder, file] = a.split('/');
  if (!(folder! in FOLDERS)) throw new Error(`unknown folder ${folder}: one of ${Object.keys(FOLDERS).join(', ')}`);
  if (file && !existsSync(`src/${a}`)) throw new Error(`no file src/${a}`);
}
const reports: string[] = [];
for (const target of asked.length ? asked : Object.keys(FOLDERS)) {
  const [folder, file] = target.split('/') as [string, string | undefined];
  // A large folder can be run a file at a time: each file's report is its own, the table adds them up.
  const report = `reports/mutation/${file ? `${folder}-${file.replace(/\.ts$/, '')}` : folder}`;
  const r = spawnSync(
    'npx',
    [
      'stryker', 'run', '--mutate', file ? `src/${target}` : `src/${folder}/**/*.ts`,
      // The incremental file keeps a static mutant's result (one run when its module loads) even
      // after tests for it were added: MXP_MUTATION_FORCE=1 retests every mutant.
      ...(process.env.MXP_MUTATION_FORCE ? ['--force'] : []),
    ],
    {
      stdio: 'inherit',
      env: {
        // The fast-check property test (8 s at 40 cases) covers nearly every mutant of secrets/: 10
        // cases each keep a run of the folder under an hour; the example-based tests run in full.
        MXP_PROP_RUNS: '10',
        ...process.env,
        MXP_MUTATION_TESTS: FOLDERS[folder]!.join(','),
        MXP_MUTATION_REPORT: report,
      },
    },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  reports.push(`${report}.json`);
}
spawnSync('npx', ['tsx', 'scripts/mutation-scores.ts', ...reports], { stdio: 'inherit' });
