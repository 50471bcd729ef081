import { chmodSync, chownSync, lchownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir } from '../../../src/roles/compile.ts';
import { tempDir } from '../helpers.ts';

const uid = process.getuid!();

describe('ensurePrivateDir (the cache of compiled roles, whose modules are imported)', () => {
  it('creates a missing folder (and its parents) private: 0700', () => {
    const d = join(tempDir(), 'mxplay', 'roles');
    ensurePrivateDir(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, '..')).mode & 0o777).toBe(0o700);
  });

  it.each<[string, number]>([
    ['0700', 0o700],
    ['0755: others may read, not write', 0o755],
    ['0500', 0o500],
  ])('accepts an existing folder of the user with mode %s', (_n, mode) => {
    const d = join(tempDir(), 'roles');
    mkdirSync(d);
    chmodSync(d, mode);
    expect(() => ensurePrivateDir(d)).not.toThrow();
  });

  it.each<[string, number, RegExp]>([
    ['group writable', 0o770, /its group or others can write to it \(mode 770\)/],
    ['others writable', 0o707, /its group or others can write to it \(mode 707\)/],
    ['world writable and sticky, as /tmp', 0o1777, /its group or others can write to it \(mode 777\)/],
  ])('refuses a folder that is %s', (_n, mode, want) => {
    const d = join(tempDir(), 'mxplay-roles-0');
    mkdirSync(d);
    chmodSync(d, mode);
    expect(() => ensurePrivateDir(d)).toThrow(want);
    expect(() => ensurePrivateDir(d)).toThrow(`refusing to use ${d} as the cache of compiled roles`);
  });

  it('refuses a folder owned by another user', () => {
    if (uid !== 0) return; // only root can give a folder away
    const d = join(tempDir(), 'mxplay-roles-0');
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, 65534, 65534);
    expect(() => ensurePrivateDir(d)).toThrow(new RegExp(`${d}.*it belongs to uid 65534, not to you \\(uid ${uid}\\)`));
  });

  it("refuses another user's symbolic link, even to a private folder of the user", () => {
    if (uid !== 0) return;
    const base = tempDir();
    const target = join(base, 'mine');
    mkdirSync(target, { mode: 0o700 });
    const link = join(base, 'mxplay-roles-0');
    symlinkSync(target, link);
    expect(() => ensurePrivateDir(link)).not.toThrow(); // the user's own link is fine
    lchownSync(link, 65534, 65534);
    expect(() => ensurePrivateDir(link)).toThrow(/symbolic link of uid 65534/);
  });

  it('refuses a file in place of the folder', () => {
    const f = join(tempDir(), 'roles');
    writeFileSync(f, 'x');
    expect(() => ensurePrivateDir(f)).toThrow(/EEXIST|not a folder/);
  });
});
