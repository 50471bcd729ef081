#!/usr/bin/env node
// `mxplay roles | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// The bundle built by `npm ci` (prepare): dist/cli.mjs holds the command line alone, each command's
// work loads when it runs. MXPLAY_FROM_SOURCE=1 runs the TypeScript sources instead.
if (process.env.MXPLAY_FROM_SOURCE) {
  const { register } = await import('tsx/esm/api');
  register();
  const { cli } = await import('../src/cli/main.ts');
  await cli(process.argv.slice(2));
} else {
  const { cli } = await import('../dist/cli.mjs');
  await cli(process.argv.slice(2));
}
