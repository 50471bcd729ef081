// The one module of the built package: the role API and the CLI entry, so roles importing
// 'mxplay' share the CLI's instance (and its secret registry).
export * from './index.ts';
export { cli } from './cli/main.ts';
