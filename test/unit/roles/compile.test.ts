import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compiledRole, ensurePrivateDir } from '../../../src/roles/compile.ts';
import { sourceMapped } from '../../../src/stack-trace.ts';
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

describe('compiledRole', () => {
  it("writes the role's source map beside the module, and an error thrown in the role is shown at its .ts line", async () => {
    const dir = tempDir();
    process.env.XDG_CACHE_HOME = join(dir, 'cache');
    try {
      const api = join(dir, 'api.mjs');
      writeFileSync(api, 'export const greet = (s) => `hello ${s}`;\n');
      const role = join(dir, 'roles', 'thrower', 'role.ts');
      mkdirSync(join(role, '..'), { recursive: true });
      writeFileSync(role, ["import { greet } from 'mxplay';", '', 'export function tasks(): string {', "  throw new Error(greet('role'));", '}', ''].join('\n'));
      const url = await compiledRole(role, api);
      const file = fileURLToPath(url);
      expect(existsSync(`${file}.map`)).toBe(true);
      expect(readFileSync(file, 'utf8')).not.toContain('sourceMappingURL=data:');
      // In a Node of its own, as mxplay runs it: vitest's loader maps stacks itself.
      const stack = execFileSync(process.execPath, ['--input-type=module', '-e', `import { tasks } from ${JSON.stringify(url)}; try { tasks() } catch (e) { process.stdout.write(e.stack) }`], { encoding: 'utf8' });
      expect(stack).toMatch(/^Error: hello role\n/);
      // Node's own source maps stay off: the stack names the compiled module, and only sourceMapped names role.ts
      expect(stack).toContain(`${url}:`);
      expect(stack).not.toContain(role);
      expect(sourceMapped(stack)).toContain(`${role}:4:`);
    } finally {
      delete process.env.XDG_CACHE_HOME;
    }
  });
});
