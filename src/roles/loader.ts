import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../paths.ts';
import { UserError, suggest } from '../errors.ts';
import { importFile } from '../import-file.ts';
import { compiledRole } from './compile.ts';
import type { RoleDefinition } from './define.ts';

export const BUILTIN_ROLES = join(PACKAGE_ROOT, 'roles');
const PREBUILT_ROLES = join(PACKAGE_ROOT, 'dist', 'roles');

/** Newest .ts below a folder: built-in roles may import each other's helpers (nginx ↔ apache). */
function newestTs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** The bundled built-in role, if the build is newer than every .ts file of the built-in roles. */
function prebuilt(name: string, dir: string): string | undefined {
  const built = join(PREBUILT_ROLES, `${name}.mjs`);
  if (dir !== join(BUILTIN_ROLES, name) || !existsSync(built)) return undefined;
  return statSync(built).mtimeMs >= newestTs(BUILTIN_ROLES) ? built : undefined;
}

/** Set when this code runs from the bundle (an entry or a chunk of dist/): the module a compiled role imports as 'mxplay'. */
const BUNDLE = fileURLToPath(import.meta.url).startsWith(join(PACKAGE_ROOT, 'dist') + sep) ? join(PACKAGE_ROOT, 'dist', 'mxplay.mjs') : undefined;
let tsxRegistered = false;

/**
 * Roles are TypeScript. From the bundle, a role without a fresh build (the user's roles) is
 * compiled once into a cached module; from the sources (development), tsx compiles it.
 */
async function importTs(file: string): Promise<unknown> {
  if (BUNDLE) {
    return importFile(await compiledRole(file, BUNDLE));
  }
  if (!tsxRegistered && !process.execArgv.some((a) => a.includes('tsx')) && !process.env.VITEST) {
    const { register } = await importFile<typeof import('tsx/esm/api')>('tsx/esm/api');
    register();
    tsxRegistered = true;
  }
  return importFile(pathToFileURL(file).href);
}

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
    const built = prebuilt(name, dir);
    mod = (built ? await importFile(pathToFileURL(built).href) : await importTs(file)) as { default?: RoleDefinition };
  } catch (e) {
    throw new UserError(`cannot load role: ${(e as Error).message}`, { file, role: name });
  }
  const def = mod.default;
  if (!def || typeof def.tasks !== 'function' || !def.vars) {
    throw new UserError('role.ts must `export default defineRole({ name, vars, tasks })`', { file, role: name });
  }
  return { def, dir, file };
}
