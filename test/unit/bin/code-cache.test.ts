// bin/code-cache.js with real V8 code caches: each start is a Node process of its own (as mxplay's
// starts are), loading a small bundle through loadBundle and reporting how the cache went.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CODE_CACHE = fileURLToPath(new URL('../../../bin/code-cache.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'mxplay-code-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A folder with a bundle (exports answer(), and load(url) through the lent import()) and a cache home. */
function fixture(answer = 42) {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  const bundle = join(dir, 'bundle.cjs');
  writeFileSync(bundle, `exports.answer = () => ${answer};\nexports.load = (u) => globalThis[Symbol.for('mxplay.importFile')](u);\n`);
  writeFileSync(join(dir, 'mod.mjs'), 'export const greeting = "hello from a module";\n');
  return { dir, bundle, cacheHome: join(dir, 'cache'), codeDir: join(dir, 'cache', 'mxplay', 'code') };
}

interface Start {
  cache: string;
  answer: number;
  greeting: string;
  sameInstance: boolean;
}

/** One start: load the bundle, call it, import a module through it; the cache is saved at exit as bin does. */
function start(f: ReturnType<typeof fixture>, buildId = 'b1'): Start {
  const script = `
    const { loadBundle } = require(${JSON.stringify(CODE_CACHE)});
    const b = loadBundle(${JSON.stringify(f.bundle)}, ${JSON.stringify(buildId)});
    process.once('exit', b.saveCache);
    b.exports.load(${JSON.stringify(new URL(`file://${join(f.dir, 'mod.mjs')}`).href)}).then((m) => {
      console.log(JSON.stringify({ cache: b.cache, answer: b.exports.answer(), greeting: m.greeting, sameInstance: require(${JSON.stringify(f.bundle)}) === b.exports }));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, XDG_CACHE_HOME: f.cacheHome }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Start;
}

const caches = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.v8cache')) : []);

describe('the code cache of the bundle', () => {
  it('a first start writes it (private, named for the build and Node); the next start runs from it as it is', () => {
    const f = fixture();
    expect(start(f)).toEqual({ cache: 'missed', answer: 42, greeting: 'hello from a module', sameInstance: true });
    const [name] = caches(f.codeDir);
    expect(name).toMatch(new RegExp(`^[0-9a-f]{16}-b1-${process.version.replace(/\./g, '\\.')}-${process.arch}\\.v8cache$`));
    expect(statSync(f.codeDir).mode & 0o777).toBe(0o700);
    const file = join(f.codeDir, name!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = statSync(file);
    expect(start(f)).toEqual({ cache: 'used', answer: 42, greeting: 'hello from a module', sameInstance: true });
    // not rewritten: the same file, untouched
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('a damaged cache is refused by V8, the start runs without it, and it is replaced', () => {
    const f = fixture();
    start(f);
    const file = join(f.codeDir, caches(f.codeDir)[0]!);
    writeFileSync(file, Buffer.alloc(statSync(file).size, 0x5a));
    expect(start(f).cache).toBe('missed');
    expect(readFileSync(file).every((b) => b === 0x5a)).toBe(false);
    expect(start(f).cache).toBe('used');
  });

  it('a cache its group or others can write is never read, and is replaced by a private one', () => {
    const f = fixture();
    start(f);
    const file = join(f.codeDir, caches(f.codeDir)[0]!);
    chmodSync(file, 0o620);
    // V8 would accept this cache: only the check of its mode keeps it from being used
    expect(start(f).cache).toBe('missed');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(start(f).cache).toBe('used');
  });

  it('a cache folder others can write holds no cache: the bundle runs without one', () => {
    const f = fixture();
    mkdirSync(f.codeDir, { recursive: true });
    chmodSync(f.codeDir, 0o777);
    expect(start(f)).toEqual({ cache: 'none', answer: 42, greeting: 'hello from a module', sameInstance: true });
    expect(caches(f.codeDir)).toEqual([]);
  });

  it("a rebuilt bundle of the same length never meets the older build's cache, which is removed", () => {
    const f = fixture(42);
    start(f, 'b1');
    writeFileSync(f.bundle, readFileSync(f.bundle, 'utf8').replace('42', '43'));
    // V8 checks a cache against the source's length alone: only the build id tells these apart
    expect(start(f, 'b2')).toMatchObject({ cache: 'missed', answer: 43 });
    expect(caches(f.codeDir)).toEqual([expect.stringContaining('-b2-')]);
    expect(start(f, 'b2')).toMatchObject({ cache: 'used', answer: 43 });
  });
});
