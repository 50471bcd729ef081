// The test files' start order (test/sequencer.ts): longest first by vitest's timing, else the
// committed table, unknown files as long; unit files after e2e files.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedMs, orderFiles, type CachedResult, type FileToOrder } from '../sequencer.ts';
import table from '../durations.json' with { type: 'json' };

const e2e = (name: string): FileToOrder => ({ project: 'e2e', file: `test/e2e/${name}.e2e.test.ts` });
const unit = (name: string): FileToOrder => ({ project: 'unit', file: `test/unit/${name}.test.ts` });
const names = (fs: FileToOrder[]) => fs.map((f) => f.file.replace(/^test\/(e2e|unit)\//, '').replace(/(\.e2e)?\.test\.ts$/, ''));

describe('expectedMs', () => {
  const f = e2e('a');
  it.each<[string, CachedResult | undefined, Record<string, unknown>, number]>([
    ['a passing cached run wins over the table', { duration: 1234, failed: false }, { [f.file]: 500 }, 1234],
    ['a failed cached run is not trusted: the table', { duration: 10, failed: true }, { [f.file]: 500 }, 500_000],
    ['no cache: the table, seconds to ms', undefined, { [f.file]: 2.5 }, 2500],
    ['in neither: long', undefined, {}, Number.POSITIVE_INFINITY],
    ['failed and not in the table: long', { duration: 10, failed: true }, {}, Number.POSITIVE_INFINITY],
    ['a table entry that is not a number is ignored', undefined, { [f.file]: '500' }, Number.POSITIVE_INFINITY],
  ])('%s', (_what, cached, seconds, ms) => {
    expect(expectedMs(f, cached, seconds)).toBe(ms);
  });
});

describe('orderFiles', () => {
  const cacheOf = (m: Record<string, CachedResult>) => (x: FileToOrder) => m[x.file];
  it.each<[string, FileToOrder[], Record<string, CachedResult>, Record<string, number>, string[]]>([
    ['a fresh clone: longest first by the table, unknown first of all',
      [e2e('short'), e2e('new'), e2e('long'), e2e('mid')], {},
      { [e2e('short').file]: 10, [e2e('long').file]: 400, [e2e('mid').file]: 100 },
      ['new', 'long', 'mid', 'short']],
    ["vitest's timings win over the table",
      [e2e('a'), e2e('b')], { [e2e('a').file]: { duration: 50_000, failed: false } },
      { [e2e('a').file]: 400, [e2e('b').file]: 100 },
      ['b', 'a']],
    ['unit files after every e2e file, however long, and longest first among themselves',
      [unit('quick'), e2e('tiny'), unit('slow'), e2e('big')],
      { [unit('slow').file]: { duration: 90_000, failed: false }, [unit('quick').file]: { duration: 100, failed: false } },
      { [e2e('tiny').file]: 1, [e2e('big').file]: 300 },
      ['big', 'tiny', 'slow', 'quick']],
    ['unknown unit files first among unit files, never before e2e files',
      [unit('known'), unit('unknown'), e2e('x')], { [unit('known').file]: { duration: 5, failed: false } },
      { [e2e('x').file]: 1 },
      ['x', 'unknown', 'known']],
    ['equal or unknown durations: by name, so the order is the same every run',
      [e2e('c'), e2e('a'), e2e('b'), e2e('z'), e2e('y')], {},
      { [e2e('c').file]: 7, [e2e('a').file]: 7, [e2e('b').file]: 7 },
      ['y', 'z', 'a', 'b', 'c']],
  ])('%s', (_what, files, cached, seconds, expected) => {
    expect(names(orderFiles(files, cacheOf(cached), seconds))).toEqual(expected);
  });

  it('keeps every file exactly once and leaves its input alone', () => {
    const files = [e2e('a'), unit('b'), e2e('c')];
    const copy = [...files];
    const out = orderFiles(files, () => undefined, {});
    expect(files).toEqual(copy);
    expect([...out].sort((x, y) => x.file.localeCompare(y.file))).toEqual([...files].sort((x, y) => x.file.localeCompare(y.file)));
  });
});

describe('test/durations.json', () => {
  it('names only e2e files that exist, each with a positive number of seconds', () => {
    const entries = Object.entries(table).filter(([k]) => k !== '//');
    expect(entries.length).toBeGreaterThan(0);
    for (const [file, s] of entries) {
      expect(file).toMatch(/^test\/e2e\/[a-z0-9-]+\.e2e\.test\.ts$/);
      expect(existsSync(new URL(`../../${file}`, import.meta.url)), file).toBe(true);
      expect(typeof s === 'number' && s > 0, file).toBe(true);
    }
  });
});
