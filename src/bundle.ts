// The built package is this one CommonJS file (dist/mxplay.cjs): the command line and the role API
// together, so that roles importing 'mxplay' (dist/mxplay.mjs, which re-exports the API from it) share
// the CLI's modules and its secret registry. One file is what V8's code cache holds (bin/code-cache.js).
export * from './index.ts';
export { cli } from './cli/main.ts';
export { helpTexts } from './cli/help-texts.ts';
