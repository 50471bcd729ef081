// A template's EJS function, remembered across runs in a private cache folder.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileEjs } from '../../../src/resources/ejs-cache.ts';
import { tempDir } from '../helpers.ts';

let home: string;
let saved: string | undefined;
beforeEach(() => {
  saved = process.env.XDG_CACHE_HOME;
  // a new cache home for each test (privateCacheFolder looks each folder up once per process)
  home = tempDir('mxp-ejs-cache-');
  process.env.XDG_CACHE_HOME = home;
});
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved;
});

/** The templates kept (not .pruned, the time of the last sweep). */
const cached = () => readdirSync(join(home, 'mxplay', 'ejs')).filter((n) => n !== '.pruned');

describe('compileEjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('mxp-ejs-templates-');
    writeFileSync(join(dir, 'part.ejs'), 'port <%= port %>');
  });

  it.each([
    ['plain names and loops', '<% for (const p of peers) { %>peer <%= p %>\n<% } %>', { peers: ['a', 'b'] }],
    ['values as they are, no HTML escaping', 'x = <%= v %>', { v: '<&"\'>' }],
    ['an include, relative to the template', "<%- include('part.ejs') %>!", { port: 8008 }],
    ['whitespace control', 'a\n<%_ if (on) { _%>\n  b\n<%_ } _%>\nc', { on: true }],
  ])('%s: renders as EJS does, compiled fresh and from the cache', (_, text, data) => {
    const path = join(dir, 'main.ejs');
    const want = ejs.compile(text, { filename: path, strict: false, escape: (s: unknown) => String(s) })(data);
    expect(compileEjs(path, text)(data)).toBe(want);
    expect(cached()).toHaveLength(1);
    expect(compileEjs(path, text)(data)).toBe(want);
  });

  it("an error names the template's line, from the cache too", () => {
    const path = join(dir, 'broken.ejs');
    const text = 'one\ntwo <%= missing.field %>\n';
    for (let i = 0; i < 2; i++) {
      expect(() => compileEjs(path, text)({})).toThrow(/broken\.ejs:2/);
    }
    expect(cached()).toHaveLength(1);
  });

  it('a template that does not compile is not remembered', () => {
    expect(() => compileEjs(join(dir, 'bad.ejs'), 'a <% if (x) { %> b')).toThrow();
    expect(cached()).toEqual([]);
  });

  it('the source kept is what runs (so only a folder of the user that nobody else can write holds it)', () => {
    const path = join(dir, 'main.ejs');
    compileEjs(path, 'hello');
    const [name] = cached();
    const file = join(home, 'mxplay', 'ejs', name!);
    expect(readFileSync(file, 'utf8')).toContain('hello');
    writeFileSync(file, '  var __output = "planted"; return __output;\n');
    expect(compileEjs(path, 'hello')({})).toBe('planted');
  });

  it('a cache folder others can write to is not used: the template is compiled afresh, nothing read or kept there', () => {
    const open = join(home, 'mxplay', 'ejs');
    mkdirSync(open, { recursive: true });
    chmodSync(open, 0o777);
    const text = 'hello';
    const planted = join(open, `${createHash('sha256').update(`${ejs.VERSION}\0${JSON.stringify({ strict: false })}\0${text}`).digest('hex')}.js`);
    writeFileSync(planted, '  var __output = "planted"; return __output;\n');
    expect(compileEjs(join(dir, 'main.ejs'), text)({})).toBe('hello');
    expect(cached()).toEqual([planted.split('/').pop()]);
  });
});
