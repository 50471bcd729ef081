import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
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
          // Lab hosts share one bridge, one apt proxy and two cores: one file at a time.
          fileParallelism: false,
          testTimeout: 15 * 60_000,
          hookTimeout: 10 * 60_000,
          teardownTimeout: 120_000,
        },
      },
    ],
  },
});
