// Runs the CommonJS bundle from V8's code cache. Why: compiling the bundle's 3 MB at every start
// took about 100 ms of a 0.5 s no-op run, and Node 20 has no compile cache of its own (22 does).
// The cache is V8's bytecode of the functions the first run compiled, kept per user; a later
// start deserializes it instead of parsing and compiling again.
'use strict';
const { isAscii } = require('node:buffer');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const { homedir } = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

/** Lent to the bundle: a vm.Script has no loader behind import(), this module has (src/import-file.ts). */
const IMPORT_FILE = Symbol.for('mxplay.importFile');

/**
 * `${XDG_CACHE_HOME:-~/.cache}/mxplay/code`, made 0700, or undefined when it cannot be made or is
 * not private: a cache is code this process runs, so only a folder nobody else can write holds it.
 */
function privateCacheDir(env = process.env) {
  const dir = path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'mxplay', 'code');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = fs.lstatSync(dir);
    const uid = process.getuid ? process.getuid() : s.uid;
    return s.isDirectory() && s.uid === uid && (s.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cache's name for this bundle: its folder and build id (V8 checks a cache against the source's
 * length alone, so a rebuilt bundle must never meet an older cache), Node's version and arch.
 */
function cacheName(file, buildId) {
  const where = createHash('sha256').update(file).digest('hex').slice(0, 16);
  return { prefix: `${where}-`, name: `${where}-${buildId}-${process.version}-${process.arch}.v8cache` };
}

/** The cache's bytes when it is a regular file of this user that nobody else can write, else undefined. */
function readTrusted(file) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const s = fs.fstatSync(fd);
    const uid = process.getuid ? process.getuid() : s.uid;
    if (!s.isFile() || s.uid !== uid || (s.mode & 0o022) !== 0) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Written aside and renamed in: a start meanwhile sees the old cache or the new one, never half of one. */
function writeCache(dir, names, data) {
  const file = path.join(dir, names.name);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
    // Caches of this bundle's earlier builds (or Node versions) are of no more use.
    for (const n of fs.readdirSync(dir)) if (n.startsWith(names.prefix) && n !== names.name && n.endsWith('.v8cache')) fs.rmSync(path.join(dir, n), { force: true });
  } catch {
    fs.rmSync(tmp, { force: true }); // a cache not written only costs the next start its compile
  }
}

/**
 * Loads `file` (a CommonJS bundle whose build is `buildId`) as require() would, registered in
 * require's cache so that `require(file)` elsewhere (dist/mxplay.mjs, which roles import) returns
 * this instance. Uses the user's code cache when it is there and V8 accepts it.
 * `cache`: 'used', 'missed' (none yet, or refused) or 'none' (no private folder for one).
 * `saveCache()`, after a miss: writes the cache from the functions compiled so far (bin calls it as
 * the process ends, when the run has compiled what it needed).
 */
function loadBundle(file, buildId, env = process.env) {
  const dir = privateCacheDir(env);
  const names = cacheName(file, buildId);
  const cachedData = dir ? readTrusted(path.join(dir, names.name)) : undefined;
  // ASCII (the build escapes the rest) is read as latin1: a copy, where UTF-8 decoding of 2.5 MB took 15 ms.
  const bytes = fs.readFileSync(file);
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const cache = !dir ? 'none' : cachedData && !script.cachedDataRejected ? 'used' : 'missed';

  globalThis[IMPORT_FILE] = (specifier) => import(specifier);
  const mod = new Module(file, module);
  mod.filename = file;
  require.cache[file] = mod;
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  return {
    exports: mod.exports,
    cache,
    saveCache: () => cache === 'missed' && writeCache(dir, names, script.createCachedData()),
  };
}

module.exports = { loadBundle };
