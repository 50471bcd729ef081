import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { UserError, suggest } from '../errors.ts';
import { isPlainObject, loadYaml, type YamlFile } from '../config/yaml-file.ts';
import { InlineOptionError, REFUSED_INLINE_TYPES, inlineTaskTypes, inlineTypeHint, type InlineTaskType, type InlineType } from './inline-tasks.ts';

export interface RoleEntry {
  role: string;
  vars: Record<string, unknown>;
  tags: string[];
  line?: number;
}

export interface InlineTask {
  name?: string;
  type: InlineTaskType;
  /** The options as the type's schema gave them, with control-machine paths made absolute. */
  options: unknown;
  line?: number;
  /** How errors name the task: `task 'motd' (file) of play 'web'`. */
  label: string;
  /** The playbook it is written in. */
  file: string;
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
  /**
   * Every value read with `!env`, `!file` or `!command` in the playbook (play vars), and the secret
   * options of its inline tasks (a postgres_role's password): to register as secrets.
   */
  secretValues: string[];
  /** Every value written `!unsafe` in the playbook: never evaluated as Jinja. */
  literalValues?: string[];
  /** Files of the control machine the inline tasks read (templates, key files): inputs of a saved plan. */
  inputFiles?: string[];
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

/**
 * The first issue of a failed parse as a UserError at its line: an unknown key with a "did you
 * mean" among the keys known there, a missing key as missing.
 */
function zodError(y: YamlFile, base: (string | number)[], err: z.ZodError, schema?: z.ZodType, input?: unknown, label?: string): UserError {
  const issue = err.issues[0]!;
  const path = [...base, ...(issue.path as (string | number)[])];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    path.push(key);
    const keys = schema ? schemaKeys(schema, issue.path as (string | number)[]) : [];
    const hint = suggest(key, keys);
    message = `unknown key '${key}'${hint ? `; did you mean ${hint}?` : keys.length ? ` (known: ${keys.join(', ')})` : ''}`;
  } else if (issue.code === 'invalid_type' && issue.path.length > 0 && valueAt(input, issue.path as (string | number)[]) === undefined) {
    message = `missing key '${String(issue.path.at(-1))}' (${issue.expected})`;
  }
  let line: number | undefined;
  for (let n = path.length; n >= 0 && line === undefined; n--) line = y.lineOf(path.slice(0, n));
  const key = path.filter((p) => typeof p === 'string').at(-1) as string | undefined;
  return new UserError(label ? `${label}: ${message}` : message, { file: y.file, line, key });
}

function valueAt(v: unknown, path: (string | number)[]): unknown {
  let cur = v;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[p] : undefined;
  return cur;
}

type DefLike = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[] };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: DefLike } })._zod.def;

/** The keys the objects of a schema know at a path inside it (for "did you mean"). */
function schemaKeys(schema: z.ZodType | undefined, path: (string | number)[] = []): string[] {
  if (!schema) return [];
  const d = defOf(schema);
  if (d.innerType) return schemaKeys(d.innerType, path);
  if (d.type === 'pipe') return schemaKeys(d.in, path);
  if (d.type === 'union') return [...new Set((d.options ?? []).flatMap((o) => schemaKeys(o, path)))];
  if (!path.length) return d.type === 'object' ? Object.keys(d.shape ?? {}) : [];
  const [head, ...rest] = path;
  if (d.type === 'object') return schemaKeys(d.shape?.[String(head)], rest);
  if (d.type === 'array') return schemaKeys(d.element, rest);
  if (d.type === 'record') return schemaKeys(d.valueType, rest);
  return [];
}

/** Where a string of the options holds a NUL byte (no shell, file or database value carries one). */
function nulPath(v: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof v === 'string') return v.includes('\0') ? path : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) { const p = nulPath(v[i], [...path, i]); if (p) return p; }
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) { const p = nulPath(x, [...path, k]); if (p) return p; }
  }
  return undefined;
}

interface TaskPlace {
  y: YamlFile;
  path: (string | number)[];
  /** `play 'web'` or `play 2 (db)`. */
  play: string;
  handler: boolean;
  secrets: Set<string>;
  files: Set<string>;
}

function parseInlineTask(at: TaskPlace, raw: Record<string, unknown>): InlineTask {
  const { y, path } = at;
  const { name, ...rest } = raw;
  const types = Object.keys(rest);
  const line = y.lineOf(path);
  const kind = at.handler ? 'handler' : 'task';
  const position = Number(path.at(-1)) + 1;
  const titled = (type?: string) => `${kind} ${typeof name === 'string' ? `'${name}'` : position}${type ? ` (${type})` : ''} of ${at.play}`;
  if (types.length !== 1) {
    throw new UserError(`${titled()}: a ${kind} has a name and exactly one resource type (${Object.keys(inlineTaskTypes).join(', ')})`, { file: y.file, line });
  }
  const type = types[0]!;
  const label = titled(type);
  if (type in REFUSED_INLINE_TYPES) throw new UserError(`${label}: not available as an inline ${kind}: ${REFUSED_INLINE_TYPES[type]}`, { file: y.file, line, key: type });
  if (!(type in inlineTaskTypes)) {
    const hint = inlineTypeHint(type) ?? suggest(type, Object.keys(inlineTaskTypes));
    throw new UserError(`${titled()}: unknown resource type '${type}'${hint ? `; did you mean ${hint}?` : ''}`, { file: y.file, line, key: type });
  }
  const spec = inlineTaskTypes[type as InlineTaskType] as InlineType;
  if (at.handler && spec.notHandler) throw new UserError(`${label}: not a handler: ${spec.notHandler}`, { file: y.file, line, key: type });
  const where = [...path, type];
  const nul = nulPath(rest[type]);
  if (nul) {
    const key = nul.filter((p) => typeof p === 'string').at(-1) as string | undefined;
    throw new UserError(`${label}: ${[type, ...nul].join('.')}: contains a NUL byte, which no shell, config file or database value can carry`, { file: y.file, line: y.lineOf([...where, ...nul]) ?? line, ...(key ? { key } : {}) });
  }
  const parsed = spec.schema.safeParse(rest[type]);
  if (!parsed.success) throw zodError(y, where, parsed.error, spec.schema, rest[type], label);
  let options: unknown = parsed.data;
  if (spec.load) {
    try {
      const loaded = spec.load(parsed.data, dirname(y.file));
      options = loaded.options;
      for (const f of loaded.files ?? []) at.files.add(f);
    } catch (e) {
      if (!(e instanceof InlineOptionError)) throw e;
      throw new UserError(`${label}: ${e.message}`, { file: y.file, line: y.lineOf([...where, e.key]) ?? line, key: e.key });
    }
  }
  for (const v of spec.secrets?.(options) ?? []) if (typeof v === 'string' && v) at.secrets.add(v);
  return { ...(typeof name === 'string' ? { name } : {}), type: type as InlineTaskType, options, ...(line !== undefined ? { line } : {}), label, file: y.file };
}

export function loadPlaybook(arg: string, cwd = process.cwd()): Playbook {
  const file = resolvePlaybookPath(arg, cwd);
  const y = loadYaml(file);
  if (!Array.isArray(y.data)) throw new UserError('a playbook is a list of plays', { file: y.file, line: 1 });
  const secrets = new Set(y.secrets);
  const files = new Set<string>();
  const plays = y.data.map((raw, index): Play => {
    if (!isPlainObject(raw)) throw new UserError('a play is a mapping (hosts, roles, ...)', { file: y.file, line: y.lineOf([index]) });
    const parsed = playSchema.safeParse(raw);
    if (!parsed.success) throw zodError(y, [index], parsed.error, playSchema, raw);
    const p = parsed.data;
    const roles = (p.roles ?? []).map((r, i): RoleEntry => {
      const line = y.lineOf([index, 'roles', i]);
      return typeof r === 'string'
        ? { role: r, vars: {}, tags: [], line }
        : { role: r.role, vars: r.vars ?? {}, tags: toList(r.tags), line };
    });
    const play = p.name !== undefined ? `play '${p.name}'` : `play ${index + 1} (${p.hosts})`;
    const task = (handler: boolean) => (t: Record<string, unknown>, i: number) =>
      parseInlineTask({ y, path: [index, handler ? 'handlers' : 'tasks', i], play, handler, secrets, files }, t);
    return {
      index,
      name: p.name ?? `play ${index + 1} (${p.hosts})`,
      hosts: p.hosts,
      vars: p.vars ?? {},
      roles,
      tasks: (p.tasks ?? []).map(task(false)),
      handlers: (p.handlers ?? []).map(task(true)),
      become: p.become,
      serial: p.serial,
      maxFailPercentage: p.max_fail_percentage ?? 100,
      tags: toList(p.tags),
      line: y.lineOf([index]),
    };
  });
  return { file: y.file, dir: dirname(file), plays, secretValues: [...secrets], literalValues: y.literals, inputFiles: [...files] };
}
