// The documentation of a role's variables, read from its zod schema (the code is the single source
// of truth): each variable and, nested, each key of its objects, lists and maps, with a readable
// type, its default, whether it is required or secret, and its `.describe()` text. Zod 4's
// definitions (`schema._zod.def`) are read directly: z.toJSONSchema loses what matters here (it
// turns `port` into `integer`, an IP union into `string | string`, and cannot tell a prefault).
import type { z } from 'zod';

/** One documented variable, or one key inside a variable (`path` then says where). */
export interface VarDoc {
  /** The role variable this entry belongs to (for a nested key, the variable it is inside). */
  name: string;
  /**
   * Where the value sits: the variable's name, then `.key` for a key of an object, `[]` for each
   * item of a list and `{}` for each value of a map (`postgres_users[].password`).
   */
  path: string;
  /** Readable type: `string`, `port (1-65535)`, `IP address`, `closed | open`, `list of string`, ... */
  type: string;
  /** Must be given (within its parent, for a nested key): no default, not optional. */
  required: boolean;
  /** The value used when none is given (absent when there is none). */
  default?: unknown;
  /** Declared secret(): masked in every output. */
  secret: boolean;
  description?: string;
  /** What its checks say a value must be, in their own words (`a size like 50M`), beyond its type. */
  checks?: string[];
}

/** What the notation of VarDoc.path means, said once at the top of `mxplay roles NAME`. */
export const PATH_NOTATION = 'a.b is key b of object a, a[].b key b of each item of list a, a{}.b key b of each value of map a';

/** The parts of zod 4's internal definitions read here. */
interface Def {
  type: string;
  format?: string;
  checks?: { _zod: { def: CheckDef } }[];
  innerType?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  left?: z.ZodType;
  right?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
  entries?: Record<string, string | number>;
  values?: unknown[];
  defaultValue?: unknown;
}

interface CheckDef {
  check: string;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
  length?: number;
  error?: (issue?: unknown) => unknown;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const checksOf = (d: Def): CheckDef[] => (d.checks ?? []).map((c) => c._zod.def);

/** Wrappers that change whether a value may be left out, not what it is. */
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'catch', 'readonly', 'nonoptional', 'nullable', 'success']);

function metaOf(s: z.ZodType): Record<string, unknown> | undefined {
  try {
    return (s as unknown as { meta(): Record<string, unknown> | undefined }).meta();
  } catch {
    return undefined;
  }
}

/** The message a check was given (`.regex(re, 'a host name like …')`), when it is a fixed text. */
function messageOf(c: CheckDef): string | undefined {
  if (typeof c.error !== 'function') return undefined;
  try {
    const m = c.error(undefined);
    return typeof m === 'string' ? m : typeof (m as { message?: unknown })?.message === 'string' ? (m as { message: string }).message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The shared schemas of src/roles/schemas.ts, known by their messages (a role's bundle holds its own
 * copy of them, so they cannot be known by identity). A schema may also name itself with
 * `.meta({ typeText: '…' })`.
 */
const NAMED_STRINGS: [RegExp, string][] = [
  [/^a host name like .* or an IP address$/, 'host name or IP'],
  [/^a host name like /, 'host name'],
  [/^an absolute path like /, 'absolute path'],
  [/^a server name like /, 'server name (host name or IP, optional :port)'],
];

const STRING_FORMATS: Record<string, string> = {
  url: 'URL',
  email: 'email address',
  ipv4: 'IPv4 address',
  ipv6: 'IPv6 address',
  cidrv4: 'IPv4 network (CIDR)',
  cidrv6: 'IPv6 network (CIDR)',
  uuid: 'UUID',
  guid: 'UUID',
  hostname: 'host name',
  base64: 'base64 text',
  base64url: 'base64url text',
  datetime: 'date and time (ISO 8601)',
  date: 'date (YYYY-MM-DD)',
  time: 'time (HH:MM[:SS])',
  duration: 'duration (ISO 8601)',
};

/** Two options that read as one: `IPv4 address | IPv6 address` is an IP address. */
const MERGED_OPTIONS: [string[], string][] = [
  [['IPv4 address', 'IPv6 address', 'IPv4 network (CIDR)', 'IPv6 network (CIDR)'], 'IP address or network (CIDR)'],
  [['IPv4 address', 'IPv6 address'], 'IP address'],
  [['IPv4 network (CIDR)', 'IPv6 network (CIDR)'], 'IP network (CIDR)'],
];

function stringText(d: Def): string {
  const checks = checksOf(d);
  if (d.format && d.format !== 'regex') return STRING_FORMATS[d.format] ?? `string (${d.format})`;
  for (const c of checks) {
    const m = messageOf(c);
    const named = m !== undefined ? NAMED_STRINGS.find(([re]) => re.test(m)) : undefined;
    if (named) return named[1];
  }
  for (const c of checks) {
    if (c.check === 'string_format' && c.format && c.format !== 'regex' && STRING_FORMATS[c.format]) return STRING_FORMATS[c.format]!;
  }
  const min = checks.find((c) => c.check === 'min_length')?.minimum;
  const max = checks.find((c) => c.check === 'max_length')?.maximum;
  const exact = checks.find((c) => c.check === 'length_equals')?.length;
  if (exact !== undefined) return `string (${exact} characters)`;
  if (min !== undefined && max !== undefined) return `string (${min}-${max} characters)`;
  if (min !== undefined && min > 1) return `string (at least ${min} characters)`;
  if (max !== undefined) return `${min === 1 ? 'non-empty ' : ''}string (at most ${max} characters)`;
  return min === 1 ? 'non-empty string' : 'string';
}

function numberText(d: Def): string {
  const checks = checksOf(d);
  const int = d.format === 'safeint' || d.format === 'int32' || d.format === 'uint32' || checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  let lo: { value: number; inclusive: boolean } | undefined;
  let hi: { value: number; inclusive: boolean } | undefined;
  for (const c of checks) {
    if (typeof c.value !== 'number') continue;
    if (c.check === 'greater_than') lo = { value: c.value, inclusive: !!c.inclusive };
    if (c.check === 'less_than') hi = { value: c.value, inclusive: !!c.inclusive };
  }
  // Integers: an exclusive bound is the next inclusive one (> 0 is >= 1).
  if (int && lo && !lo.inclusive) lo = { value: lo.value + 1, inclusive: true };
  if (int && hi && !hi.inclusive) hi = { value: hi.value - 1, inclusive: true };
  const base = int ? 'integer' : 'number';
  if (int && lo?.value === 1 && hi?.value === 65535) return 'port (1-65535)';
  if (lo?.inclusive && hi?.inclusive) return `${base} (${lo.value}-${hi.value})`;
  if (int && lo?.value === 1 && !hi) return 'positive integer';
  if (int && lo?.value === 0 && !hi) return 'integer (>= 0)';
  const bounds = [lo && `${lo.inclusive ? '>=' : '>'} ${lo.value}`, hi && `${hi.inclusive ? '<=' : '<'} ${hi.value}`].filter(Boolean);
  return bounds.length ? `${base} (${bounds.join(', ')})` : base;
}

const literalText = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'undefined' : String(v));

/** Options of a union as one text: each option once, IPv4 | IPv6 read as IP address. */
function unionText(texts: string[]): string {
  let parts = [...new Set(texts.flatMap((t) => splitTop(t)))];
  for (const [group, name] of MERGED_OPTIONS) {
    if (group.every((g) => parts.includes(g))) {
      const at = parts.indexOf(group[0]!);
      parts = parts.filter((p) => !group.includes(p));
      parts.splice(at, 0, name);
    }
  }
  return parts.join(' | ');
}

/** The options of a union text (` | ` outside parentheses), to flatten unions of unions. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (depth === 0 && text.startsWith(' | ', i)) {
      out.push(text.slice(start, i));
      start = i + 3;
      i += 2;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** A type inside another (`list of …`): parenthesised when it is a union. */
const inner = (t: string) => (splitTop(t).length > 1 ? `(${t})` : t);

/**
 * The type of a schema as a user reads it: `string`, `integer (1-10)`, `port (1-65535)`, `URL`,
 * `IP address`, `host name or IP`, `a | b | c` (an enum), `"x"` (a string literal), `list of
 * string`, `map of string`, `object`. Optional and default wrappers are seen through (the
 * default is VarDoc.default); a transform is read by what it takes.
 */
export function typeText(schema: z.ZodType): string {
  const named = metaOf(schema)?.typeText;
  if (typeof named === 'string') return named;
  const d = defOf(schema);
  switch (d.type) {
    case 'optional': case 'default': case 'prefault': case 'catch': case 'readonly': case 'nonoptional': case 'success':
      return typeText(d.innerType!);
    case 'nullable':
      return unionText([typeText(d.innerType!), 'null']);
    case 'pipe':
      // z.preprocess(fn, schema) is a pipe from a transform: what counts is the schema after it.
      return defOf(d.in!).type === 'transform' ? typeText(d.out!) : typeText(d.in!);
    case 'lazy':
      return typeText(d.getter!());
    case 'string':
      return stringText(d);
    case 'number':
      return numberText(d);
    case 'bigint':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    case 'null':
      return 'null';
    case 'undefined': case 'void':
      return 'nothing';
    case 'any': case 'unknown': case 'custom': case 'transform':
      return 'any';
    case 'never':
      return 'never';
    case 'enum':
      return Object.values(d.entries ?? {}).map(String).join(' | ');
    case 'literal':
      return (d.values ?? []).map(literalText).join(' | ');
    case 'union':
      return unionText((d.options ?? []).map(typeText));
    case 'intersection':
      return `${inner(typeText(d.left!))} & ${inner(typeText(d.right!))}`;
    case 'array': {
      const min = checksOf(d).find((c) => c.check === 'min_length')?.minimum;
      return `${min && min > 0 ? 'non-empty ' : ''}list of ${inner(typeText(d.element!))}`;
    }
    case 'tuple':
      return `[${(d.items ?? []).map(typeText).join(', ')}${d.rest ? `, ...${inner(typeText(d.rest))}` : ''}]`;
    case 'set':
      return `list of unique ${inner(typeText((d as unknown as { valueType: z.ZodType }).valueType))}`;
    case 'record': case 'map': {
      const keyType = d.keyType ? defOf(d.keyType).type : 'string';
      const keys = keyType === 'enum' || keyType === 'literal' ? ` (keys: ${typeText(d.keyType!)})` : '';
      const value = inner(typeText(d.valueType!));
      // A map of maps with keys of their own: which keys are whose.
      return `map of ${keys && value.includes('(keys: ') && !value.startsWith('(') ? `(${value})` : value}${keys}`;
    }
    case 'object':
      return d.catchall && defOf(d.catchall).type !== 'never' ? 'object (any more keys)' : 'object';
    default:
      return d.type;
  }
}

/** Through optional/default wrappers, pipes and lazies: the schema that says what the value is. */
function base(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 100; i++) {
    const d = defOf(s);
    if (WRAPPERS.has(d.type)) s = d.innerType!;
    else if (d.type === 'pipe') s = defOf(d.in!).type === 'transform' ? d.out! : d.in!;
    else if (d.type === 'lazy') s = d.getter!();
    else return s;
  }
  return s;
}

/** Checks whose message the type text already says (the named strings of NAMED_STRINGS). */
const saidByType = (m: string) => NAMED_STRINGS.some(([re]) => re.test(m));

/**
 * Optional-ness, default, description, secret mark and the messages of its checks (regex, refine),
 * read from the wrappers down to the base.
 */
function facts(schema: z.ZodType): Omit<VarDoc, 'name' | 'path' | 'type'> {
  let required = true;
  let dflt: { value: unknown } | undefined;
  let description: string | undefined;
  let secret = false;
  const checks: string[] = [];
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s && i < 100; i++) {
    const m = metaOf(s);
    if (m?.secret === true) secret = true;
    description ??= (s as { description?: string }).description;
    const d = defOf(s);
    for (const c of checksOf(d)) {
      if (c.check !== 'custom' && !(c.check === 'string_format' && c.format === 'regex')) continue;
      const msg = messageOf(c);
      if (msg && !saidByType(msg) && !checks.includes(msg)) checks.push(msg);
    }
    if (d.type === 'optional') required = false;
    if (d.type === 'default' || d.type === 'prefault') {
      required = false;
      if (!dflt) {
        try {
          dflt = { value: d.defaultValue };
        } catch {
          dflt = { value: undefined };
        }
      }
    }
    if (WRAPPERS.has(d.type)) s = d.innerType;
    else if (d.type === 'pipe') s = defOf(d.in!).type === 'transform' ? d.out : d.in;
    else if (d.type === 'lazy') s = d.getter!();
    else s = undefined;
  }
  return {
    required,
    ...(dflt && dflt.value !== undefined ? { default: dflt.value } : {}),
    secret,
    ...(description ? { description } : {}),
    ...(checks.length ? { checks } : {}),
  };
}

/**
 * The keys nested in a value of this schema, as [path suffix, schema]: an object's keys (`.key`),
 * through lists (`[]`) and maps (`{}`), and the keys of every object option of a union.
 */
function nested(schema: z.ZodType, depth = 0): [string, z.ZodType][] {
  if (depth > 8) return [];
  const d = defOf(base(schema));
  switch (d.type) {
    case 'object':
      return Object.entries(d.shape ?? {}).map(([k, s]) => [`.${k}`, s]);
    case 'array':
      return nested(d.element!, depth + 1).map(([p, s]) => [`[]${p}`, s]);
    case 'record': case 'map':
      return nested(d.valueType!, depth + 1).map(([p, s]) => [`{}${p}`, s]);
    case 'union': {
      const seen = new Set<string>();
      return (d.options ?? []).flatMap((o) => nested(o, depth + 1)).filter(([p]) => !seen.has(p) && !!seen.add(p));
    }
    case 'intersection':
      return [...nested(d.left!, depth + 1), ...nested(d.right!, depth + 1)];
    default:
      return [];
  }
}

function entry(name: string, path: string, schema: z.ZodType, out: VarDoc[], depth = 0): void {
  out.push({ name, path, type: typeText(schema), ...facts(schema) });
  if (depth > 8) return;
  for (const [suffix, s] of nested(schema)) entry(name, path + suffix, s, out, depth + 1);
}

/**
 * Every variable of a role's schema, each followed by the keys nested in it (`postgres_users`,
 * then `postgres_users[].name`, `postgres_users[].password`), in the schema's order.
 */
export function describeVars(schema: z.ZodObject<any>): VarDoc[] {
  const out: VarDoc[] = [];
  for (const [name, s] of Object.entries(defOf(schema).shape ?? {})) entry(name, name, s, out);
  return out;
}

/** A default as the user would write it: JSON, with a space after each comma and colon. */
export function formatValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v) ?? String(v);
}

/** `required`, `default: 10` or `optional`, then `secret` when it is one. */
export function varFlags(v: VarDoc): string {
  const presence = 'default' in v ? `default: ${formatValue(v.default)}` : v.required ? 'required' : 'optional';
  return v.secret ? `${presence}, secret` : presence;
}

export interface RoleDoc {
  name: string;
  description: string;
  dir: string;
  vars: VarDoc[];
}

/** `mxplay roles NAME`: the header with the notation, then each variable and its nested keys. */
export function roleDocText(d: RoleDoc): string {
  const lines = [
    `${d.name}${d.description ? ` — ${d.description}` : ''}`,
    `  from ${d.dir}`,
    '',
    'Each variable: NAME: TYPE; required, default: VALUE or optional; secret: masked in every output.',
    `Keys nested in a variable: ${PATH_NOTATION} (required there: within its parent).`,
    'Below each: what it is for, and what its checks require (checked: …).',
    '',
  ];
  if (!d.vars.length) lines.push('  (none)');
  for (const v of d.vars) {
    const indent = '  '.repeat(1 + (v.path.slice(v.name.length).match(/\./g)?.length ?? 0));
    lines.push(`${indent}${v.path}: ${v.type}; ${varFlags(v)}`);
    if (v.description) lines.push(`${indent}    ${v.description}`);
    if (v.checks) lines.push(`${indent}    checked: ${v.checks.join('; ')}`);
  }
  return lines.join('\n') + '\n';
}
