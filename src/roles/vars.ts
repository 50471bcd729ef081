import type { z } from 'zod';
import { UserError, suggest } from '../errors.ts';
import type { Host, VarOrigin } from '../inventory/inventory.ts';
import { isPlainObject, loadYaml, parseYaml, type YamlFile } from '../config/yaml-file.ts';
import { parseAnsibleScalar } from '../config/yaml11.ts';
import type { VarsSchema } from './define.ts';
import { checkReservedName } from '../inventory/connection-vars.ts';

export interface VarLayer {
  values: Record<string, unknown>;
  origin: (key: string) => VarOrigin;
}

/**
 * `ansible_…` and `mxplay_…`: connection and run settings, not role variables. Which of them mxplay
 * honours (and where) is the table of src/inventory/connection-vars.ts; any other is refused.
 */
export const isReservedVar = (k: string) => k.startsWith('ansible_') || k.startsWith('mxplay_');

export interface ExtraVarsLayer extends VarLayer {
  /** Every value read with `!env`, `!file` or `!command` in the `-e @file`s: to register as secrets. */
  secretValues: string[];
  /** Every value written `!unsafe` in the `-e @file`s: never evaluated as Jinja. */
  literalValues?: string[];
}

/** `-e {"k": 1}`: a JSON (or YAML flow) mapping given inline, as ansible-playbook takes it. */
export const isInlineMapping = (arg: string) => arg.trimStart().startsWith('{');

/**
 * `-e key=value` (value read as a YAML 1.1 scalar as in the files, so 100 is a number and yes is true),
 * `-e @file.yml`, and `-e '{"key": value}'` (JSON, or YAML flow: read as the files are).
 */
export function parseExtraVars(args: string[]): ExtraVarsLayer {
  const values: Record<string, unknown> = {};
  const origins: Record<string, VarOrigin> = {};
  const secretValues = new Set<string>();
  const literalValues = new Set<string>();
  const addMapping = (y: YamlFile, what: string, line: (k: string) => number | undefined) => {
    for (const v of y.secrets) secretValues.add(v);
    for (const v of y.literals) literalValues.add(v);
    if (!isPlainObject(y.data)) throw new UserError(`${what} must be a mapping`, { file: y.file });
    for (const [k, v] of Object.entries(y.data)) {
      values[k] = v;
      origins[k] = { file: y.file, line: line(k), layer: 'extra vars (-e)' };
    }
  };
  for (const a of args) {
    if (a.startsWith('@')) {
      const y = loadYaml(a.slice(1));
      addMapping(y, 'extra vars file', (k) => y.lineOf([k]));
      continue;
    }
    if (isInlineMapping(a)) {
      addMapping(parseYaml(a, 'command line (-e)'), '-e {...}', () => undefined);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UserError(`-e expects key=value, @file.yml or a JSON mapping, got '${a}'`);
    const k = a.slice(0, eq);
    try {
      values[k] = parseAnsibleScalar(a.slice(eq + 1));
    } catch (e) {
      throw new UserError(`-e ${k}=…: ${(e as Error).message}`, { key: k });
    }
    origins[k] = { file: 'command line', layer: 'extra vars (-e)' };
  }
  return { values, origin: (k) => origins[k] ?? { file: 'command line', layer: 'extra vars (-e)' }, secretValues: [...secretValues], literalValues: [...literalValues] };
}

export function hostLayer(host: Host): VarLayer {
  return { values: host.vars, origin: (k) => host.origins[k] ?? { file: 'inventory', layer: 'inventory' } };
}

export function fixedLayer(values: Record<string, unknown>, file: string, line: number | undefined, layer: string): VarLayer {
  return { values, origin: () => ({ file, line, layer }) };
}

/** Later layers win, key by key (Ansible's precedence); the origin of each winning value is kept. */
export function mergeLayers(layers: VarLayer[]): { values: Record<string, unknown>; origin: (k: string) => VarOrigin | undefined } {
  const values: Record<string, unknown> = {};
  const from = new Map<string, VarLayer>();
  for (const l of layers) {
    for (const [k, v] of Object.entries(l.values)) {
      values[k] = v;
      from.set(k, l);
    }
  }
  return { values, origin: (k) => from.get(k)?.origin(k) };
}

export function schemaKeys(schema: VarsSchema): string[] {
  return Object.keys(schema.shape);
}

/**
 * Unknown keys of a layer, with a "did you mean" among the variables that do exist. A layer with a
 * host and no role is that host's inventory vars, whose ansible_ and mxplay_ keys loadInventory has
 * checked already (with their own file and line); in the other layers (play vars, a role's vars in
 * a play, -e) those keys are checked against connection-vars.ts, where connection variables are
 * refused since mxplay reads them from the inventory only.
 */
export function unknownKeyErrors(
  layer: VarLayer,
  known: Set<string>,
  context: { host?: string; role?: string },
): UserError[] {
  const errors: UserError[] = [];
  const inventoryLayer = context.host !== undefined && context.role === undefined;
  for (const k of Object.keys(layer.values)) {
    if (known.has(k)) continue;
    if (isReservedVar(k)) {
      if (inventoryLayer) continue;
      const verdict = checkReservedName(k, 'play');
      if (!verdict.ok) {
        const o = layer.origin(k);
        errors.push(new UserError(verdict.message, { file: o.file, line: o.line, ...context, key: k }));
      }
      continue;
    }
    const o = layer.origin(k);
    const hint = suggest(k, known);
    const whose = context.role ? `a variable of role ${context.role}` : 'a variable of any role';
    errors.push(new UserError(`${k}: not ${whose}${hint ? `; did you mean ${hint}?` : ''}`, { file: o.file, line: o.line, ...context, key: k }));
  }
  return errors;
}

/** Validate a role's slice of the merged vars; errors name the file the bad value came from. */
export function validateRoleVars<S extends VarsSchema>(
  schema: S,
  merged: { values: Record<string, unknown>; origin: (k: string) => VarOrigin | undefined },
  context: { host: string; role: string },
): { ok: true; vars: z.output<S> } | { ok: false; errors: UserError[] } {
  const input: Record<string, unknown> = {};
  for (const k of schemaKeys(schema)) if (k in merged.values) input[k] = merged.values[k];
  const nul = nulErrors(input, merged.origin, context);
  if (nul.length) return { ok: false, errors: nul };
  // Keys inside a variable's objects are checked strictly, whatever the role's schema says: zod's
  // z.object drops an unknown key silently, so `lc_colate:` would leave lc_collate at its default.
  const nested: UserError[] = [];
  const reported = new Set<string>();
  for (const [k, v] of Object.entries(input)) {
    for (const u of unknownNestedKeys(schema.shape[k] as z.ZodType, v, k)) {
      const o = merged.origin(k);
      reported.add(u.path);
      nested.push(new UserError(`${u.path}: unknown key${u.hint ? `; did you mean ${u.hint}?` : ` (known: ${u.known.join(', ') || 'none'})`}`, { ...(o ? { file: o.file, line: o.line } : {}), ...context, key: k }));
    }
  }
  const r = schema.safeParse(input);
  if (r.success && !nested.length) return { ok: true, vars: r.data };
  const issues = r.success ? [] : r.error.issues.filter((i) => i.code !== 'unrecognized_keys' || !i.keys.every((key) => reported.has(formatPath([...i.path, key]))));
  const errors = nested.concat(issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const o = merged.origin(key);
    const missing = issue.code === 'invalid_type' && input[key] === undefined;
    const message = missing
      ? `missing required variable ${key}${describe(schema, key)}`
      : `${formatPath(issue.path)}: ${issue.message}`;
    return new UserError(message, { ...(o ? { file: o.file, line: o.line } : {}), ...context, key });
  }));
  return { ok: false, errors };
}

/** `postgres_databases[0].lc_collate`: a path as a user writes it. */
function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

interface ZodDefLike {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  getter?: () => z.ZodType;
}
const defOf = (s: z.ZodType | undefined): ZodDefLike | undefined => (s as unknown as { _zod?: { def: ZodDefLike } } | undefined)?._zod?.def;

/**
 * Keys of `value` that its schema's objects do not have, at any depth (through arrays, records,
 * optional/default wrappers, unions: a key no option has), with a "did you mean" among the keys
 * that exist there. Objects that take any key (z.looseObject, a catchall) are left alone.
 */
export function unknownNestedKeys(schema: z.ZodType | undefined, value: unknown, path: string): { path: string; hint?: string; known: string[] }[] {
  const out: { path: string; hint?: string; known: string[] }[] = [];
  const walk = (s: z.ZodType | undefined, v: unknown, p: PropertyKey[]) => {
    const d = defOf(s);
    if (!d || v === undefined || v === null) return;
    switch (d.type) {
      case 'optional': case 'nullable': case 'default': case 'prefault': case 'catch': case 'readonly': case 'nonoptional':
        return walk(d.innerType, v, p);
      case 'pipe':
        return walk(d.in, v, p);
      case 'lazy':
        return walk(d.getter?.(), v, p);
      case 'array':
        if (Array.isArray(v)) v.forEach((x, i) => walk(d.element, x, [...p, i]));
        return;
      case 'record':
        if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(d.valueType, x, [...p, k]);
        return;
      case 'union': {
        if (!isPlainObject(v)) return;
        const objects = (d.options ?? []).map((o) => ({ o, d: objectDef(o) })).filter((x) => x.d);
        if (!objects.length || objects.some((x) => openObject(x.d!))) return;
        const known = new Set(objects.flatMap((x) => Object.keys(x.d!.shape ?? {})));
        for (const k of Object.keys(v)) if (!known.has(k)) out.push({ path: formatPath([...p, k]), ...hintFor(k, known) });
        // Deeper: the option whose keys the value uses.
        const fit = objects.find((x) => Object.keys(v).every((k) => k in (x.d!.shape ?? {})));
        if (fit) walk(fit.o, v, p);
        return;
      }
      case 'object': {
        if (!isPlainObject(v) || openObject(d)) return;
        const shape = d.shape ?? {};
        for (const [k, x] of Object.entries(v)) {
          if (k in shape) walk(shape[k], x, [...p, k]);
          else out.push({ path: formatPath([...p, k]), ...hintFor(k, Object.keys(shape)) });
        }
        return;
      }
      default:
        return;
    }
  };
  walk(schema, value, [path]);
  return out;
}

function objectDef(s: z.ZodType): ZodDefLike | undefined {
  const d = defOf(s);
  if (!d) return undefined;
  if (['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional'].includes(d.type)) return objectDef(d.innerType!);
  if (d.type === 'pipe') return objectDef(d.in!);
  return d.type === 'object' ? d : undefined;
}

/** An object that takes keys besides its shape (looseObject, a catchall other than never). */
const openObject = (d: ZodDefLike) => !!d.catchall && defOf(d.catchall)?.type !== 'never';

function hintFor(key: string, known: Iterable<string>): { hint?: string; known: string[] } {
  const list = [...known];
  const hint = suggest(key, list);
  return hint ? { hint, known: list } : { known: list };
}

/**
 * A NUL byte cannot reach a host: shells, config files and SQL all end a string there, and shell
 * quoting would drop it silently. Refused wherever it sits, naming the path to it.
 */
function nulErrors(
  input: Record<string, unknown>,
  origin: (k: string) => VarOrigin | undefined,
  context: { host: string; role: string },
): UserError[] {
  const found: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'string') {
      if (v.includes('\0')) found.push(path);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
  };
  for (const [k, v] of Object.entries(input)) walk(v, k);
  return found.map((path) => {
    const key = path.split(/[.[]/)[0]!;
    const o = origin(key);
    return new UserError(`${path}: contains a NUL byte, which no shell, config file or database value can carry`, { ...(o ? { file: o.file, line: o.line } : {}), ...context, key });
  });
}

function describe(schema: VarsSchema, key: string): string {
  const d = (schema.shape[key] as z.ZodType | undefined)?.description;
  return d ? ` (${d})` : '';
}
