import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UserError, suggest } from '../errors.ts';
import type { RoleDefinition } from './define.ts';

export const BUILTIN_ROLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'roles');

export interface LoadedRole {
  def: RoleDefinition;
  dir: string;
  file: string;
}

/** The user's roles/ folders (next to the playbook, then the working directory) win over built-ins. */
export function roleSearchPath(playbookDir?: string, cwd = process.cwd()): string[] {
  const dirs = [playbookDir && join(playbookDir, 'roles'), playbookDir && join(playbookDir, '..', 'roles'), join(cwd, 'roles'), BUILTIN_ROLES];
  return [...new Set(dirs.filter((d): d is string => !!d && existsSync(d)))];
}

export function availableRoles(searchPath: string[]): string[] {
  const names = new Set<string>();
  for (const d of searchPath) {
    for (const n of readdirSync(d)) if (existsSync(join(d, n, 'role.ts'))) names.add(n);
  }
  return [...names].sort();
}

const cache = new Map<string, Promise<LoadedRole>>();

export function loadRole(name: string, searchPath: string[]): Promise<LoadedRole> {
  const key = `${searchPath.join(':')}|${name}`;
  let p = cache.get(key);
  if (!p) cache.set(key, (p = importRole(name, searchPath)));
  return p;
}

async function importRole(name: string, searchPath: string[]): Promise<LoadedRole> {
  const dir = searchPath.map((d) => join(d, name)).find((d) => existsSync(join(d, 'role.ts')));
  if (!dir) {
    const hint = suggest(name, availableRoles(searchPath));
    throw new UserError(`unknown role '${name}'${hint ? `; did you mean ${hint}?` : ''} (looked in ${searchPath.join(', ')})`, { role: name });
  }
  const file = join(dir, 'role.ts');
  let mod: { default?: RoleDefinition };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    throw new UserError(`cannot load role: ${(e as Error).message}`, { file, role: name });
  }
  const def = mod.default;
  if (!def || typeof def.tasks !== 'function' || !def.vars) {
    throw new UserError('role.ts must `export default defineRole({ name, vars, tasks })`', { file, role: name });
  }
  return { def, dir, file };
}
