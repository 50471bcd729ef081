import { parse as parseYamlScalar } from 'yaml';
import type { z } from 'zod';
import { UserError, suggest } from '../errors.ts';
import type { Host, VarOrigin } from '../inventory/inventory.ts';
import { isPlainObject, loadYaml } from '../config/yaml-file.ts';
import type { VarsSchema } from './define.ts';

export interface VarLayer {
  values: Record<string, unknown>;
  origin: (key: string) => VarOrigin;
}

/** Variables every host may carry besides role variables (connection and run settings). */
export const isReservedVar = (k: string) => k.startsWith('ansible_') || k.startsWith('mxplay_');

export interface ExtraVarsLayer extends VarLayer {
  /** Every value read with `!env`, `!file` or `!command` in the `-e @file`s: to register as secrets. */
  secretValues: string[];
}

/** `-e key=value` (value read as a YAML scalar, so 100 is a number) and `-e @file.yml`. */
export function parseExtraVars(args: string[]): ExtraVarsLayer {
  const values: Record<string, unknown> = {};
  const origins: Record<string, VarOrigin> = {};
  const secretValues = new Set<string>();
  for (const a of args) {
    if (a.startsWith('@')) {
      const y = loadYaml(a.slice(1));
      for (const v of y.secrets) secretValues.add(v);
      if (!isPlainObject(y.data)) throw new UserError('extra vars file must be a mapping', { file: y.file });
      for (const [k, v] of Object.entries(y.data)) {
        values[k] = v;
        origins[k] = { file: y.file, line: y.lineOf([k]), layer: 'extra vars (-e)' };
      }
      continue;
    }
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UserError(`-e expects key=value or @file.yml, got '${a}'`);
    const k = a.slice(0, eq);
    values[k] = parseYamlScalar(a.slice(eq + 1) || '""');
    origins[k] = { file: 'command line', layer: 'extra vars (-e)' };
  }
  return { values, origin: (k) => origins[k] ?? { file: 'command line', layer: 'extra vars (-e)' }, secretValues: [...secretValues] };
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

/** Unknown keys of a layer, with a "did you mean" among the variables that do exist. */
export function unknownKeyErrors(
  layer: VarLayer,
  known: Set<string>,
  context: { host?: string; role?: string },
): UserError[] {
  const errors: UserError[] = [];
  for (const k of Object.keys(layer.values)) {
    if (known.has(k) || isReservedVar(k)) continue;
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
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, vars: r.data };
  const errors = r.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const o = merged.origin(key);
    const missing = issue.code === 'invalid_type' && input[key] === undefined;
    const message = missing
      ? `missing required variable ${key}${describe(schema, key)}`
      : `${issue.path.join('.')}: ${issue.message}`;
    return new UserError(message, { ...(o ? { file: o.file, line: o.line } : {}), ...context, key });
  });
  return { ok: false, errors };
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
