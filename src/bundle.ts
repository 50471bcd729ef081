// The role API of the built package (dist/mxplay.mjs): roles importing 'mxplay' share the CLI's
// modules (and its secret registry) through the chunks both entries are built from.
export * from './index.ts';
