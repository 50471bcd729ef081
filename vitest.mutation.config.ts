import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The unit tests Stryker runs against one folder's mutants (scripts/mutation.ts sets
// MXP_MUTATION_TESTS): a folder's score is what its own tests catch. Its vitest runner does not
// pick a project out of vitest.config.ts, and the e2e project must never run under mutation.
export default defineConfig({
  resolve: { alias: { mxplay: fileURLToPath(new URL('./src/bundle.ts', import.meta.url)) } },
  test: {
    include: (process.env.MXP_MUTATION_TESTS ?? 'test/unit/**/*.test.ts').split(','),
    // Stryker runs tests in worker threads, where os.homedir() does not see a stubbed $HOME; the
    // transport tests need that, and they test no mutated folder.
    exclude: ['test/unit/transport/**'],
    testTimeout: 30_000,
  },
});
