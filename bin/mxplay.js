#!/usr/bin/env node
// Roles are TypeScript loaded at run time (built-in and the user's own), so tsx is registered first.
import { register } from 'tsx/esm/api';

// `mxplay roles | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

register();
const { cli } = await import('../src/cli/main.ts');
await cli(process.argv.slice(2));
