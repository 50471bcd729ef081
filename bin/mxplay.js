#!/usr/bin/env node
// CommonJS (bin/package.json), not a module: Node starts it a few milliseconds sooner, and `mxplay --help`
// is answered from here alone. Everything else is the bundle dist/mxplay.cjs, loaded below.
'use strict';
const { existsSync, readFileSync, realpathSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

// `mxplay roles | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/** `--help`, `CMD --help`, `help CMD`, `--version` alone: the key of its text in dist/help.json. */
function helpKey(args) {
  const isHelp = (a) => a === '--help' || a === '-h';
  if (args.length === 1 && (isHelp(args[0]) || args[0] === 'help')) return '';
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) return '--version';
  if (args.length === 2 && isHelp(args[1]) && !args[0].startsWith('-')) return args[0];
  if (args.length === 2 && args[0] === 'help') return args[1];
  return undefined;
}

/** The help texts commander made at build time, printed without loading it: the commonest quick answer. */
function printBuiltHelp(args) {
  const key = helpKey(args);
  if (key === undefined) return false;
  let texts;
  try {
    texts = JSON.parse(readFileSync(join(__dirname, '../dist/help.json'), 'utf8'));
  } catch {
    return false;
  }
  if (typeof texts[key] !== 'string') return false;
  process.stdout.write(texts[key]);
  return true;
}

const root = join(__dirname, '..');
const args = process.argv.slice(2);

// The bundle built by `npm ci` (prepare), dist/mxplay.cjs, run from V8's code cache (code-cache.js).
// MXPLAY_FROM_SOURCE=1 runs the TypeScript sources instead.
(async () => {
  if (process.env.MXPLAY_FROM_SOURCE) {
    const { register } = await import('tsx/esm/api');
    register();
    const { cli } = await import(pathToFileURL(join(root, 'src/cli/main.ts')).href);
    await cli(args);
  } else if (!printBuiltHelp(args)) {
    const dist = join(root, 'dist');
    if (!existsSync(join(dist, 'mxplay.cjs')) || !existsSync(join(dist, 'build-id'))) {
      process.stderr.write(`mxplay is not built: ${join(dist, 'mxplay.cjs')} is missing. Run \`npm ci\` (or \`npm run build\`) in ${root}.\n`);
      process.exitCode = 1;
      return;
    }
    const { loadBundle } = require('./code-cache.js');
    const file = realpathSync(join(dist, 'mxplay.cjs'));
    const bundle = loadBundle(file, readFileSync(join(dist, 'build-id'), 'utf8').trim());
    process.once('exit', bundle.saveCache);
    await bundle.exports.cli(args);
    // The command is over: its output written, its connections closed. What Node would still wait
    // for (sshd closing its side of each connection, a last garbage collection: 5-15 ms) is of no use.
    await Promise.all([process.stdout, process.stderr].map(written));
    process.exit();
  }
})().catch((e) => {
  process.stderr.write(`internal error: ${(e && e.stack) || e}\n`);
  process.exitCode = 1;
});

/** Resolves once everything written to `stream` has left the process (at once on Linux, where stdout and stderr write synchronously). */
function written(stream) {
  return stream.writableLength ? new Promise((resolve) => stream.once('drain', resolve).once('close', resolve)) : undefined;
}
