import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { UserError, suggest } from '../errors.ts';
import { isPlainObject, loadYaml, type YamlFile } from '../config/yaml-file.ts';
import { inlineTaskTypes, type InlineTaskType } from './inline-tasks.ts';

export interface RoleEntry {
  role: string;
  vars: Record<string, unknown>;
  tags: string[];
  line?: number;
}

export interface InlineTask {
  name?: string;
  type: InlineTaskType;
  options: unknown;
  line?: number;
}

export interface Play {
  index: number;
  name: string;
  hosts: string;
  vars: Record<string, unknown>;
  roles: RoleEntry[];
  tasks: InlineTask[];
  handlers: InlineTask[];
  become: boolean | undefined;
  serial: number | string | undefined;
  maxFailPercentage: number;
  tags: string[];
  line?: number;
}

export interface Playbook {
  file: string;
  dir: string;
  plays: Play[];
  /** Every value read with `!env`, `!file` or `!command` in the playbook (play vars): to register as secrets. */
  secretValues: string[];
}

/** `site.yml` → ./site.yml, else playbooks/site.yml, else the path as given. */
export function resolvePlaybookPath(arg: string, cwd = process.cwd()): string {
  const candidates = [resolve(cwd, arg), join(cwd, 'playbooks', arg)];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new UserError(`playbook not found: tried ${candidates.map((c) => c.replace(cwd + '/', '')).join(', ')}`);
}

const roleEntry = z.union([
  z.string().min(1),
  z.strictObject({
    role: z.string().min(1),
    vars: z.record(z.string(), z.unknown()).optional(),
    tags: z.union([z.string(), z.array(z.string())]).optional(),
  }),
]);

const playSchema = z.strictObject({
  name: z.string().optional(),
  hosts: z.string().min(1),
  vars: z.record(z.string(), z.unknown()).optional(),
  roles: z.array(roleEntry).optional(),
  tasks: z.array(z.record(z.string(), z.unknown())).optional(),
  handlers: z.array(z.record(z.string(), z.unknown())).optional(),
  become: z.boolean().optional(),
  serial: z.union([z.number().int().positive(), z.string().regex(/^\d+%$/, 'a number or a percentage like 30%')]).optional(),
  max_fail_percentage: z.number().min(0).max(100).optional(),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
});

const toList = (t: string | string[] | undefined) => (t === undefined ? [] : Array.isArray(t) ? t : t.split(',').map((s) => s.trim()));

function zodError(y: YamlFile, base: (string | number)[], err: z.ZodError, keys: string[] = []): UserError {
  const issue = err.issues[0]!;
  const path = [...base, ...(issue.path as (string | number)[])];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    path.push(key);
    const hint = suggest(key, keys);
    message = `unknown key '${key}'${hint ? `; did you mean ${hint}?` : ''}`;
  }
  let line: number | undefined;
  for (let n = path.length; n >= 0 && line === undefined; n--) line = y.lineOf(path.slice(0, n));
  const key = path.filter((p) => typeof p === 'string').at(-1) as string | undefined;
  return new UserError(message, { file: y.file, line, key });
}

function parseInlineTask(y: YamlFile, path: (string | number)[], raw: Record<string, unknown>): InlineTask {
  const { name, ...rest } = raw;
  const types = Object.keys(rest);
  const line = y.lineOf(path);
  if (types.length !== 1) {
    throw new UserError(`a task has a name and exactly one resource type (${Object.keys(inlineTaskTypes).join(', ')})`, { file: y.file, line });
  }
  const type = types[0]!;
  if (!(type in inlineTaskTypes)) {
    const hint = suggest(type, Object.keys(inlineTaskTypes));
    throw new UserError(`unknown resource type '${type}'${hint ? `; did you mean ${hint}?` : ''}`, { file: y.file, line, key: type });
  }
  const parsed = inlineTaskTypes[type as InlineTaskType].schema.safeParse(rest[type]);
  if (!parsed.success) throw zodError(y, [...path, type], parsed.error, Object.keys(inlineTaskTypes[type as InlineTaskType].schema.shape));
  return { ...(typeof name === 'string' ? { name } : {}), type: type as InlineTaskType, options: parsed.data, line };
}

export function loadPlaybook(arg: string, cwd = process.cwd()): Playbook {
  const file = resolvePlaybookPath(arg, cwd);
  const y = loadYaml(file);
  if (!Array.isArray(y.data)) throw new UserError('a playbook is a list of plays', { file: y.file, line: 1 });
  const plays = y.data.map((raw, index): Play => {
    if (!isPlainObject(raw)) throw new UserError('a play is a mapping (hosts, roles, ...)', { file: y.file, line: y.lineOf([index]) });
    const parsed = playSchema.safeParse(raw);
    if (!parsed.success) throw zodError(y, [index], parsed.error, Object.keys(playSchema.shape));
    const p = parsed.data;
    const roles = (p.roles ?? []).map((r, i): RoleEntry => {
      const line = y.lineOf([index, 'roles', i]);
      return typeof r === 'string'
        ? { role: r, vars: {}, tags: [], line }
        : { role: r.role, vars: r.vars ?? {}, tags: toList(r.tags), line };
    });
    return {
      index,
      name: p.name ?? `play ${index + 1} (${p.hosts})`,
      hosts: p.hosts,
      vars: p.vars ?? {},
      roles,
      tasks: (p.tasks ?? []).map((t, i) => parseInlineTask(y, [index, 'tasks', i], t)),
      handlers: (p.handlers ?? []).map((t, i) => parseInlineTask(y, [index, 'handlers', i], t)),
      become: p.become,
      serial: p.serial,
      maxFailPercentage: p.max_fail_percentage ?? 100,
      tags: toList(p.tags),
      line: y.lineOf([index]),
    };
  });
  return { file: y.file, dir: dirname(file), plays, secretValues: y.secrets };
}
