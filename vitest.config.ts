import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import DurationSequencer from './test/sequencer.ts';

export default defineConfig({
  test: {
    // Three workers on this 2-core machine (vitest's default would be one; per project it is ignored):
    // e2e files spend much of their time waiting on hosts (service starts, polls, downloads).
    maxWorkers: 3,
    minWorkers: 1,
    // Longest files first (vitest's timings, else test/durations.json), unit files last: see test/sequencer.ts.
    sequence: { sequencer: DurationSequencer },
    projects: [
      {
        // Roles import 'mxplay': in unit tests that is the source, not a build that may be stale or missing.
        resolve: { alias: { mxplay: fileURLToPath(new URL('./src/bundle.ts', import.meta.url)) } },
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Tests that build whole roles load their bundles: seconds on a busy 2-core machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // Three files at a time (maxWorkers above): a file spends most of its time in one host's dpkg,
          // one Synapse start or waiting on a host; every file has hosts of its own names.
          fileParallelism: true,
          testTimeout: 15 * 60_000,
          hookTimeout: 10 * 60_000,
          teardownTimeout: 120_000,
        },
      },
    ],
  },
});
