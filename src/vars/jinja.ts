import { createHash } from 'node:crypto';
import { basename, dirname, extname } from 'node:path';
import nunjucks from 'nunjucks';
import { parse as parseYamlText, stringify as yamlStringify } from 'yaml';

/**
 * Jinja expressions in variable values, evaluated with nunjucks (the Jinja-compatible engine on
 * npm) set up to give what Ansible (ansible-core 2.14, jinja2_native off) gives:
 *
 * - values are Python-stringified in output (`['a', 'b']`, `True`, `None` → ''), then the whole
 *   result is a string, converted back to a list, a mapping or a boolean when it reads as a Python
 *   literal starting with `[` or `{`, or is `True`/`False` (Ansible's ansible_eval_concat): so
 *   `"{{ groups['all'] }}"` is a list and `"{{ 5 }}"` is the string "5";
 * - an undefined variable is an error wherever it is used (Ansible's StrictUndefined), except
 *   under `default`/`d` and the `defined`/`undefined` tests; a filter given an undefined input is one too;
 * - Ansible's own filters that variables commonly use (bool, mandatory, ternary, to_json, …).
 *
 * The engine knows no file, host or key: callers (vars/template-vars.ts) attach those to errors.
 */

/** An expression that cannot be evaluated: the message says why, without where. */
export class TemplateFailure extends Error {}

/** Whether a value is a string Ansible would template (it holds `{{`, `{%` or `{#`). */
export function isTemplate(v: unknown): v is string {
  return typeof v === 'string' && /\{[{%#]/.test(v);
}

/** Where variable names are looked up while rendering: the templating of one host's variables. */
export interface Lookup {
  has(name: string): boolean;
  /** The evaluated value; may throw (an error in that variable's own template, a loop). */
  get(name: string): unknown;
}

// ---------- undefined values ----------

const undefinedNames = new WeakMap<object, string>();

/** Jinja's StrictUndefined: any use of it but default/defined throws, naming what was undefined. */
export function undefinedValue(what: string): object {
  const fail = (): never => raise(new TemplateFailure(`${what} is undefined`));
  const p = new Proxy({}, { get: fail, has: fail, ownKeys: fail, getPrototypeOf: fail, set: fail, getOwnPropertyDescriptor: fail });
  undefinedNames.set(p, what);
  return p;
}
const isUndefined = (v: unknown) => v === undefined || (typeof v === 'object' && v !== null && undefinedNames.has(v));

// ---------- the one error thrown from inside a render ----------

/**
 * nunjucks wraps every error thrown inside a render in one of its own, losing the original: the
 * first error of ours (or of a variable's own evaluation) is kept here and rethrown as it was.
 */
let pending: unknown;
let depth = 0;
function raise(e: unknown): never {
  pending ??= e;
  throw e;
}

// ---------- Python's str() and repr() ----------

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    let out = '';
    for (const ch of v) {
      const c = ch.codePointAt(0)!;
      if (ch === '\\' || ch === q) out += '\\' + ch;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
      else out += ch;
    }
    return q + out + q;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof nunjucks.runtime.SafeString) return pyRepr(String(v));
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  }
  return pyStr(v);
}

/** JSON as Python's json.dumps writes it (', ' and ': ' separators, non-ASCII escaped). */
function pyJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v && typeof v === 'object' && !(v instanceof nunjucks.runtime.SafeString)) {
    return `{${Object.entries(v).map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`).join(', ')}}`;
  }
  const s = JSON.stringify(v instanceof nunjucks.runtime.SafeString ? String(v) : v ?? null);
  return s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python's str() of a value, as Jinja prints it. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v instanceof nunjucks.runtime.SafeString) return String(v);
  if (Array.isArray(v) || typeof v === 'object') return pyRepr(v);
  return String(v);
}

// ---------- ast.literal_eval, for results that read as Python literals ----------

/** Python literal syntax (ast.literal_eval's: strings, numbers, True/False/None, lists, tuples, dicts, sets). */
export function parsePythonLiteral(text: string): { ok: true; value: unknown } | { ok: false } {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  const fail = (): never => { throw new SyntaxError(); };
  const expect = (s: string) => { ws(); if (!text.startsWith(s, i)) fail(); i += s.length; };
  const str = (): string => {
    let out = '';
    while (true) {
      ws();
      const m = /^[uU]?(['"])/.exec(text.slice(i, i + 2));
      if (!m) return out;
      const q = m[1]!;
      i += m[0].length;
      const triple = text.startsWith(q + q, i);
      const end = triple ? q.repeat(3) : q;
      if (triple) i += 2;
      while (!text.startsWith(end, i)) {
        if (i >= text.length || (!triple && text[i] === '\n')) fail();
        const ch = text[i++]!;
        if (ch !== '\\') { out += ch; continue; }
        const e = text[i++];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };
        if (e !== undefined && e in simple) out += simple[e];
        else if (e === 'x' || e === 'u' || e === 'U') {
          const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = text.slice(i, i + n);
          if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail();
          out += String.fromCodePoint(parseInt(hex, 16));
          i += n;
        } else out += '\\' + (e ?? '');
      }
      i += end.length;
    }
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      ws();
      while (text[i] !== close) {
        out.push(value());
        ws();
        if (text[i] === ',') { i++; ws(); } else if (text[i] !== close) fail();
      }
      i++;
      return out;
    }
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return {}; }
      const first = value();
      ws();
      if (text[i] !== ':') {
        // a set: a list here
        const out = [first];
        while (text[i] === ',') { i++; ws(); if (text[i] === '}') break; out.push(value()); ws(); }
        expect('}');
        return out;
      }
      const out: Record<string, unknown> = {};
      let key = first;
      while (true) {
        expect(':');
        if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean' && key !== null) fail();
        out[pyStr(key)] = value();
        ws();
        if (text[i] === ',') { i++; ws(); }
        if (text[i] === '}') { i++; return out; }
        key = value();
      }
    }
    if (c === "'" || c === '"' || ((c === 'u' || c === 'U') && /['"]/.test(text[i + 1] ?? ''))) return str();
    const word = /^(True|False|None)(?![\w])/.exec(text.slice(i));
    if (word) { i += word[0].length; return word[1] === 'True' ? true : word[1] === 'False' ? false : null; }
    const num = /^[-+]?\s*(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?|\d[\d_]*\.)(?![\w.])/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      const t = num[0].replace(/[\s_]/g, '');
      const sign = t.startsWith('-') ? -1 : 1;
      const body = t.replace(/^[-+]/, '');
      const n = /^0[xob]/i.test(body) ? parseInt(body.slice(2), { x: 16, o: 8, b: 2 }[body[1]!.toLowerCase() as 'x' | 'o' | 'b']) : Number(body);
      if (Number.isNaN(n)) fail();
      return sign * n;
    }
    return fail();
  };
  try {
    const v = value();
    ws();
    return i === text.length ? { ok: true, value: v } : { ok: false };
  } catch (e) {
    if (e instanceof SyntaxError) return { ok: false };
    throw e;
  }
}

/**
 * Ansible doubles every backslash in the string literals of `{{ }}` (Templar's
 * _escape_backslashes: `regex_replace('(\\w+)', '\\1')` means what it says); in `{% %}`, Python's
 * escapes apply (`\n`, and an unknown `\w` stays `\w`). nunjucks' own reading of a string drops
 * the backslash of an unknown escape: the text is rewritten so that nunjucks reads what Jinja
 * would, and an escape nunjucks cannot give (`\x41`, a quote escaped inside `{{ }}`) is an error.
 */
function ansibleEscapes(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  let i = 0;
  const rawStart = /\{%-?\s*raw\s*-?%\}/y;
  const rawEnd = /\{%-?\s*endraw\s*-?%\}/g;
  while (i < text.length) {
    rawStart.lastIndex = i;
    if (rawStart.test(text)) {
      rawEnd.lastIndex = rawStart.lastIndex;
      const m = rawEnd.exec(text);
      const stop = m ? m.index + m[0].length : text.length;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (text.startsWith('{#', i)) {
      const e = text.indexOf('#}', i + 2);
      const stop = e < 0 ? text.length : e + 2;
      out += text.slice(i, stop);
      i = stop;
      continue;
    }
    const close = text.startsWith('{{', i) ? '}}' : text.startsWith('{%', i) ? '%}' : undefined;
    if (!close) {
      out += text[i++];
      continue;
    }
    out += text.slice(i, i + 2);
    i += 2;
    while (i < text.length && !text.startsWith(close, i)) {
      const q = text[i]!;
      out += text[i++];
      if (q !== "'" && q !== '"') continue;
      while (i < text.length && text[i] !== q) {
        if (text[i] !== '\\') {
          out += text[i++];
          continue;
        }
        const n = text[i + 1] ?? '';
        i += 2;
        if (close === '}}') {
          if (n === q) throw new TemplateFailure(`a quote escaped with a backslash inside {{ }} is not read as Ansible reads it (it doubles backslashes there): use the other quote around the string`);
          out += '\\\\' + (n === '\\' ? '\\\\' : n);
        } else if ('ntr\\\'"'.includes(n)) out += '\\' + n;
        else if (/^[abfvxuUN0-7\n]$/.test(n)) throw new TemplateFailure(`the escape \\${n === '\n' ? '(line break)' : n} in a string inside {% %} is not supported: write the character itself`);
        else out += '\\\\' + n;
      }
      if (i < text.length) out += text[i++];
    }
  }
  return out;
}

/** Ansible 2.14's conversion of a template's text result (ansible_eval_concat). */
function ansibleResult(out: string): unknown {
  if (out.startsWith('{') || out.startsWith('[') || out === 'True' || out === 'False') {
    const r = parsePythonLiteral(out);
    if (r.ok) return r.value;
  }
  return out;
}

// ---------- the environment ----------

nunjucks.installJinjaCompat(); // Python methods (d.items(), l.append), slices, True/False/None

let current: Lookup | undefined;
let printing = 0;
/** What the current render printed, one entry per `{{ }}` output. */
let printed: unknown[] = [];

/**
 * nunjucks prints values as JavaScript does (`a,b`, `true`); Jinja as Python does. Output of a
 * render of ours goes through pyStr; an undefined value printed is an error (StrictUndefined), a
 * None is printed as nothing (Ansible's finalize).
 */
/** The parts of nunjucks that its types do not declare. */
interface NunjucksInternals {
  runtime: { suppressValue: (v: unknown, autoescape: boolean) => unknown };
}
interface EnvironmentInternals {
  globals: Record<string, unknown>;
  filters: Record<string, (...a: unknown[]) => unknown>;
  addTest(name: string, fn: (...a: any[]) => boolean): void;
}
const runtime = (nunjucks as unknown as NunjucksInternals).runtime;
const origSuppress = runtime.suppressValue;
runtime.suppressValue = (v, autoescape) => {
  if (!printing) return origSuppress(v, autoescape);
  if (isUndefined(v)) raise(new TemplateFailure(undefinedNames.get(v as object) ? `${undefinedNames.get(v as object)} is undefined` : 'a value that is not defined (a missing key or attribute) is used'));
  printed.push(v);
  return v === null ? '' : pyStr(v);
};

const env = new nunjucks.Environment(null, { autoescape: false, trimBlocks: true, throwOnUndefined: false });
const envi = env as unknown as EnvironmentInternals;
const builtinGlobals = envi.globals;
const literals: Record<string, unknown> = {
  True: true,
  False: false,
  None: null,
  // The truth of a value in a condition: an undefined one fails (StrictUndefined), see below.
  __mx_truth: (v: unknown) => (isUndefined(v) ? raise(new TemplateFailure(`${undefinedNames.get(v as object) ?? 'a value that is not defined'} is undefined`)) : v),
};

/**
 * An undefined value is an object (so that using it can fail), and an object is true in
 * JavaScript: every condition (`if`, `x if c else y`, `not`, `and`, `or`) is compiled through
 * __mx_truth, which fails on one, as Jinja's StrictUndefined does (`{% if nope %}` is an error).
 */
{
  type AnyNode = { lineno: number; colno: number; [k: string]: unknown };
  const n = (nunjucks as unknown as { nodes: Record<string, new (...a: unknown[]) => AnyNode> }).nodes;
  const proto = (nunjucks as unknown as { compiler: { Compiler: { prototype: Record<string, (...a: unknown[]) => unknown> } } }).compiler.Compiler.prototype;
  const wrapped = new WeakSet<object>();
  const wrap = (node: AnyNode): AnyNode => {
    if (!node || wrapped.has(node)) return node;
    const call = new n.FunCall!(node.lineno, node.colno, new n.Symbol!(node.lineno, node.colno, '__mx_truth'), new n.NodeList!(node.lineno, node.colno, [node]));
    wrapped.add(call);
    return call;
  };
  for (const [method, fields] of [['compileIf', ['cond']], ['compileInlineIf', ['cond']], ['compileNot', ['target']], ['compileOr', ['left', 'right']], ['compileAnd', ['left', 'right']]] as const) {
    const orig = proto[method]!;
    proto[method] = function (this: unknown, node: unknown, ...rest: unknown[]) {
      for (const f of fields) (node as AnyNode)[f] = wrap((node as AnyNode)[f] as AnyNode);
      return orig.call(this, node, ...rest);
    };
  }
}

/** A `{{`, `{%` or `{#` that is never closed: nunjucks' own message for it is a crash of its parser. */
function unclosed(text: string): string | undefined {
  const rawStart = /\{%-?\s*raw\s*-?%\}/y;
  const rawEnd = /\{%-?\s*endraw\s*-?%\}/g;
  for (let i = 0; i < text.length; i++) {
    rawStart.lastIndex = i;
    if (rawStart.test(text)) {
      rawEnd.lastIndex = rawStart.lastIndex;
      const m = rawEnd.exec(text);
      if (!m) return 'syntax error: {% raw %} is never closed by {% endraw %}';
      i = m.index + m[0].length - 1;
      continue;
    }
    const open = text.slice(i, i + 2);
    const close = open === '{{' ? '}}' : open === '{%' ? '%}' : open === '{#' ? '#}' : undefined;
    if (!close) continue;
    const end = text.indexOf(close, i + 2);
    if (end < 0) return `syntax error: ${open} is never closed by ${close}`;
    i = end + 1;
  }
  return undefined;
}

// Every name is "defined" to nunjucks: the lookup answers, or gives an undefined value that fails when used.
envi.globals = new Proxy(builtinGlobals, {
  has: () => true,
  get(target, name) {
    if (typeof name !== 'string') return undefined;
    if (name in literals) return literals[name];
    if (current?.has(name)) {
      try {
        return current.get(name);
      } catch (e) {
        return raise(e);
      }
    }
    if (Object.hasOwn(target, name)) return target[name];
    return undefinedValue(`'${name}'`);
  },
});

const toNumber = (v: unknown, dflt = 0): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const n = Number(String(v).trim());
  return Number.isNaN(n) || String(v).trim() === '' ? dflt : n;
};

const ansibleBool = (v: unknown): boolean => {
  if (typeof v === 'boolean') return v;
  if (v === null) return false;
  const s = typeof v === 'string' ? v.toLowerCase().trim() : v;
  return s === 'yes' || s === 'on' || s === '1' || s === 'true' || s === 1;
};

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));

/**
 * Ansible's STRING_TYPE_FILTERS: a template that is one expression ending in one of them stays text
 * (not read as a Python literal). Ansible decides it from the template's text, as here; the filters
 * return plain strings, so their results compare and test like any string (`a|to_json == b|to_json`).
 */
const STRING_TYPE_END = /\|\s*(?:string|to_json|to_nice_json|to_yaml|to_nice_yaml)(?:\([^|]*\))?\s*\)?\s*\}\}$/;

/** Filters that take an undefined input on purpose (everything else fails on one). */
const takesUndefined = new Set(['default', 'd', 'mandatory']);

const filters: Record<string, (...args: any[]) => unknown> = {
  default: (v: unknown, d: unknown = '', boolean = false) => (isUndefined(v) || (boolean && !v) ? d : v),
  mandatory: (v: unknown, msg?: string) => (isUndefined(v) ? raise(new TemplateFailure(msg ?? `${undefinedNames.get(v as object) ?? 'a mandatory value'} is undefined`)) : v),
  bool: ansibleBool,
  int: (v: unknown, dflt = 0, base = 10) => {
    if (typeof v === 'string' && base !== 10) { const n = parseInt(v, base); return Number.isNaN(n) ? dflt : n; }
    return Math.trunc(toNumber(v, dflt));
  },
  float: (v: unknown, dflt = 0) => toNumber(v, dflt),
  string: (v: unknown) => pyStr(v),
  ternary: (v: unknown, a: unknown, b: unknown, none?: unknown) => (v === null && none !== undefined ? none : v ? a : b),
  // Python's json.dumps separators (', ', ': '), as Ansible's to_json prints.
  to_json: (v: unknown) => pyJson(v),
  to_nice_json: (v: unknown, indent = 4) => JSON.stringify(v, null, indent),
  from_json: (v: string) => { try { return JSON.parse(v); } catch (e) { return raise(new TemplateFailure(`from_json: ${(e as Error).message}`)); } },
  to_yaml: (v: unknown) => yamlStringify(plain(v), { lineWidth: 0 }),
  to_nice_yaml: (v: unknown, indent = 4) => yamlStringify(plain(v), { indent, lineWidth: 0 }),
  from_yaml: (v: string) => parseYamlText(v),
  b64encode: (v: unknown) => Buffer.from(pyStr(v)).toString('base64'),
  b64decode: (v: unknown) => Buffer.from(pyStr(v), 'base64').toString('utf8'),
  basename: (v: unknown) => basename(pyStr(v)),
  dirname: (v: unknown) => dirname(pyStr(v)),
  splitext: (v: unknown) => { const s = pyStr(v); const e = extname(s); return [s.slice(0, s.length - e.length), e]; },
  regex_replace: (v: unknown, re: string, rep = '', ignorecase = false, multiline = false) =>
    pyStr(v).replace(new RegExp(re, `g${ignorecase ? 'i' : ''}${multiline ? 'm' : ''}`), rep.replace(/\\(\d)/g, '$$$1').replace(/\\g<(\w+)>/g, '$$<$1>')),
  regex_search: (v: unknown, re: string) => new RegExp(re).exec(pyStr(v))?.[0] ?? null,
  regex_escape: (v: unknown) => pyStr(v).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  quote: (v: unknown) => `'${pyStr(v).replaceAll("'", `'"'"'`)}'`,
  hash: (v: unknown, alg = 'sha1') => createHash(alg).update(pyStr(v)).digest('hex'),
  checksum: (v: unknown) => createHash('sha1').update(pyStr(v)).digest('hex'),
  combine: (...dicts: unknown[]) => {
    const isDict = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
    const merge = (a: Record<string, unknown>, b: Record<string, unknown>, recursive: boolean): Record<string, unknown> => {
      const out = { ...a };
      for (const [k, v] of Object.entries(b)) out[k] = recursive && isDict(out[k]) && isDict(v) ? merge(out[k] as Record<string, unknown>, v, true) : v;
      return out;
    };
    const last = dicts.at(-1);
    const opts = isDict(last) && '__keywords' in last ? (dicts.pop() as { recursive?: boolean }) : {};
    return dicts.flat().filter(isDict).reduce<Record<string, unknown>>((acc, d) => merge(acc, d, !!opts.recursive), {});
  },
  dict2items: (v: Record<string, unknown>, key_name = 'key', value_name = 'value') => Object.entries(v).map(([k, x]) => ({ [key_name]: k, [value_name]: x })),
  items2dict: (v: Record<string, unknown>[], key_name = 'key', value_name = 'value') => Object.fromEntries(v.map((x) => [x[key_name], x[value_name]])),
  unique: (v: unknown[]) => [...new Map(v.map((x) => [JSON.stringify(x), x])).values()],
  union: (a: unknown[], b: unknown[]) => filters.unique!([...a, ...b]),
  intersect: (a: unknown[], b: unknown[]) => filters.unique!(a.filter((x) => b.some((y) => JSON.stringify(y) === JSON.stringify(x)))),
  difference: (a: unknown[], b: unknown[]) => filters.unique!(a.filter((x) => !b.some((y) => JSON.stringify(y) === JSON.stringify(x)))),
  min: (v: number[]) => Math.min(...v),
  max: (v: number[]) => Math.max(...v),
  flatten: (v: unknown[], levels = Infinity) => (v as any[]).flat(levels),
  split: (v: unknown, sep?: string) => (sep === undefined ? pyStr(v).trim().split(/\s+/) : pyStr(v).split(sep)),
  map: (v: unknown[], what: string, ...args: unknown[]) => {
    const kw = args.at(-1) as { attribute?: string; __keywords?: boolean } | undefined;
    if (kw && typeof kw === 'object' && kw.__keywords && kw.attribute !== undefined) return v.map((x) => (x as any)?.[kw.attribute!]);
    const f = env.getFilter(what);
    return v.map((x) => f(x, ...args));
  },
};

for (const [name, fn] of Object.entries(filters)) env.addFilter(name, fn);
env.addFilter('d', filters.default!);

// Every filter (nunjucks' own too) fails on an undefined input, as Jinja's StrictUndefined does,
// rather than reading it as '' (nunjucks' lower, replace, join, … do).
const registered = envi.filters;
for (const [name, fn] of Object.entries(registered)) {
  if (takesUndefined.has(name)) continue;
  registered[name] = function (this: unknown, v: unknown, ...rest: unknown[]) {
    if (isUndefined(v)) raise(new TemplateFailure(`${undefinedNames.get(v as object) ?? 'the input (a missing key or attribute)'} is undefined (filter ${name})`));
    return fn.call(this, v, ...rest);
  };
}
// Jinja's tests on undefined values, and Ansible's.
envi.addTest('defined', (v: unknown) => !isUndefined(v));
envi.addTest('undefined', (v: unknown) => isUndefined(v));
envi.addTest('none', (v: unknown) => v === null);
envi.addTest('boolean', (v: unknown) => typeof v === 'boolean');
envi.addTest('match', (v: unknown, re: string) => new RegExp(`^(?:${re})`).test(pyStr(v)));
envi.addTest('search', (v: unknown, re: string) => new RegExp(re).test(pyStr(v)));

const compiled = new Map<string, nunjucks.Template>();

/**
 * The value of a template, as Ansible gives it. Variables come from `lookup` (evaluated as they are
 * asked for, so evaluation is lazy). Throws TemplateFailure (syntax, unknown filter, undefined
 * variable) or what the lookup throws.
 */
export function renderTemplate(text: string, lookup: Lookup): unknown {
  const saved = current;
  const savedPrinted = printed;
  current = lookup;
  printed = [];
  depth++;
  printing++;
  try {
    let t = compiled.get(text);
    if (!t) {
      const u = unclosed(text);
      if (u) throw new TemplateFailure(u);
      try {
        t = new nunjucks.Template(ansibleEscapes(text), env, undefined, true);
      } catch (e) {
        if (e instanceof TemplateFailure) throw e;
        throw new TemplateFailure(cleanMessage((e as Error).message));
      }
      if (compiled.size > 5000) compiled.clear();
      compiled.set(text, t);
    }
    let out: string;
    try {
      out = t.render({});
    } catch (e) {
      // Ours, as thrown (cleared: the caller may turn it into its own, recorded in turn).
      const own = pending;
      pending = undefined;
      if (own) throw own;
      throw new TemplateFailure(cleanMessage((e as Error).message));
    }
    // A template that is one expression giving None is None (null), as Ansible's lookup('vars') shows.
    const single = printed.length === 1 && /^\{\{[\s\S]*\}\}$/.test(text);
    if (single && printed[0] === null) return null;
    // Text from to_json, string, to_yaml, … is kept as text (Ansible's STRING_TYPE_FILTERS).
    if (single && STRING_TYPE_END.test(text)) return out;
    return ansibleResult(out);
  } finally {
    current = saved;
    printed = savedPrinted;
    printing--;
    if (--depth === 0) pending = undefined;
  }
}

/** nunjucks' "(unknown path) [Line 1, Column 4]\n  Error: …" → "…". */
function cleanMessage(m: string): string {
  return m
    .replace(/^\(unknown path\)\s*/, '')
    .replace(/\[Line (\d+), Column (\d+)\]\s*/, '')
    .replace(/^\s*(Template render error: )?(\w*Error: )?/gm, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
