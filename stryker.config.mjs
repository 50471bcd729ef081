// Mutation testing of the pure core: run it through `npm run test:mutation` (scripts/mutation.ts),
// which runs one folder at a time with that folder's own unit tests and names the report after it.
const report = process.env.MXP_MUTATION_REPORT ?? 'reports/mutation/all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `${report}.json` },
  htmlReporter: { fileName: `${report}.html` },
  incremental: true,
  incrementalFile: `${report}.incremental.json`,
  tempDirName: '.stryker-tmp',
  // Not copied into the sandbox: build outputs other runs replace while a sandbox is being made.
  ignorePatterns: ['/dist.old-*', '/dist.build-*', '/.lab', '/reports', '/test-artifacts', '/bench/.out'],
  // Other work shares this machine: MXP_MUTATION_CONCURRENCY=1 keeps Stryker to one test process.
  concurrency: Number(process.env.MXP_MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 20_000,
  thresholds: { high: 90, low: 80, break: null },
};
