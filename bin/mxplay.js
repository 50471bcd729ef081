#!/usr/bin/env node
// Roles are TypeScript loaded at run time (built-in and the user's own), so tsx is registered first.
import { register } from 'tsx/esm/api';

register();
const { cli } = await import('../src/cli/main.ts');
await cli(process.argv.slice(2));
