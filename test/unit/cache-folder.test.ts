// The caches' folders: private, and swept of what nobody used for a month.
import { chmodSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { notPrivate, pruneUnused, UNUSED_FOR } from '../../src/cache-folder.ts';
import { tempDir } from './helpers.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-02T12:00:00Z');

/** A file last read and written `daysAgo` days before NOW. */
function file(dir: string, name: string, daysAgo: number): void {
  writeFileSync(join(dir, name), 'x');
  const t = (NOW - daysAgo * DAY) / 1000;
  utimesSync(join(dir, name), t, t);
}

describe('pruneUnused', () => {
  it.each<[string, [string, number][], string[]]>([
    ['an entry used within the month stays', [['a.js', 29]], ['a.js']],
    ['an entry unused for longer goes', [['a.js', 31], ['b.js', 1]], ['b.js']],
    ['a compiled role goes as a whole, with its map and its inputs list', [['k.mjs', 40], ['k.mjs.map', 40], ['k.json', 40]], []],
    ['one recent file keeps its whole entry (a map read only when an error is printed)', [['k.mjs', 2], ['k.mjs.map', 90], ['k.json', 2]], ['k.json', 'k.mjs', 'k.mjs.map']],
    ["a crashed writer's .tmp goes after a day", [['k.mjs.123.tmp', 2], ['k.mjs', 2], ['j.js.9.tmp', 0.5]], ['j.js.9.tmp', 'k.mjs']],
    ['names without an extension (snippets sh -n passed)', [['0123abcd', 31], ['4567ef', 3]], ['4567ef']],
  ])('%s', (_, files, left) => {
    const dir = tempDir();
    for (const [name, days] of files) file(dir, name, days);
    pruneUnused(dir, NOW);
    expect(readdirSync(dir).filter((n) => n !== '.pruned').sort()).toEqual(left);
  });

  it('sweeps at most once a day: the next sweep is a day after the last', () => {
    const dir = tempDir();
    pruneUnused(dir, NOW); // the sweep stamps .pruned with the real time
    file(dir, 'old.js', 100);
    pruneUnused(dir, Date.now() + DAY / 2);
    expect(readdirSync(dir)).toContain('old.js');
    pruneUnused(dir, Date.now() + DAY + 60_000);
    expect(readdirSync(dir)).not.toContain('old.js');
  });

  it('leaves folders in it alone', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    utimesSync(join(dir, 'sub'), 0, 0);
    pruneUnused(dir, NOW + UNUSED_FOR * 10);
    expect(readdirSync(dir).sort()).toEqual(['.pruned', 'sub']);
  });
});

describe('notPrivate', () => {
  it('a folder of the user only it can write is fit', () => {
    const d = join(tempDir(), 'a', 'b');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    expect(notPrivate(d, join(d, '..', '..'))).toBeUndefined();
  });

  it('names the folder above that others can write', () => {
    const top = join(tempDir(), 'mxplay');
    const d = join(top, 'ejs');
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(top, 0o777);
    expect(notPrivate(d)).toBeUndefined(); // the folder alone
    expect(notPrivate(d, top)).toBe(`${top}, a folder above it: its group or others can write to it (mode 777)`);
  });
});
