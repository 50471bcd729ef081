/**
 * The values of an INI inventory as Ansible reads them: Ansible's ini plugin hands every value
 * (inline host vars and `[group:vars]` alike) to Python's `ast.literal_eval`, and keeps the text as
 * it is when that fails. So `x=1` is the integer 1, `x=True` a boolean, `x=[1, 2]` a list,
 * `x="'1'"` the string "1", while `x=yes`, `x=true`, `x=0600` (a syntax error in Python 3) and
 * `x=foo # note` stay text, the last with its comment.
 *
 * This is a reader of Python's literal syntax, written from the language reference: numbers (with
 * `_`, `0x`, `0o`, `0b`, floats, a leading sign), strings (quotes, triple quotes, escapes, `r`/`u`
 * prefixes, adjacent strings joined), `True`/`False`/`None`, lists, tuples (also bare `1, 2`),
 * dicts, with whitespace and a trailing `# comment`. What literal_eval accepts but no variable
 * can carry faithfully (sets, complex numbers, bytes, `...`, integers beyond 2^53, infinite floats,
 * dicts with keys that are not strings) is refused with the reason rather than turned into
 * something else.
 */

export type PyResult = { kind: 'value'; value: unknown } | { kind: 'text' } | { kind: 'unsupported'; why: string };

class NotLiteral extends Error {}
class Unsupported extends Error {}

interface Tok {
  t: 'num' | 'str' | 'name' | 'op' | 'end';
  v: string;
  /** str: the decoded text; bytes/f-strings flagged */
  s?: string;
  prefix?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const DIGITS = (d: string) => `[${d}](?:_?[${d}])*`;
const DEC = DIGITS('0-9');
const NUMBER = new RegExp(
  '^(?:' +
    `0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+` +
    `|(?:(?:${DEC})?\\.${DEC}|${DEC}\\.?)(?:[eE][-+]?${DEC})?[jJ]?` +
    ')',
);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\f' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '#') break; // a comment runs to the end of the line: INI values are one line
    const rest = src.slice(i);
    const name = NAME.exec(rest);
    if (name) {
      const word = name[0];
      const q = rest[word.length];
      if ((q === '"' || q === "'") && /^(?:[rRuUbBfF]|[bB][rR]|[rR][bB]|[fF][rR]|[rR][fF])$/.test(word)) {
        const { s, len } = readString(rest.slice(word.length), word.toLowerCase());
        out.push({ t: 'str', v: rest.slice(0, word.length + len), s, prefix: word.toLowerCase() });
        i += word.length + len;
        continue;
      }
      out.push({ t: 'name', v: word });
      i += word.length;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = NUMBER.exec(rest);
      if (!m) throw new NotLiteral();
      const after = rest[m[0].length];
      if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) throw new NotLiteral(); // 0600, 1_, 1.2.3, 12abc
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const { s, len } = readString(rest, '');
      out.push({ t: 'str', v: rest.slice(0, len), s, prefix: '' });
      i += len;
      continue;
    }
    if (rest.startsWith('...')) { out.push({ t: 'op', v: '...' }); i += 3; continue; }
    if ('[](){},:+-'.includes(c)) { out.push({ t: 'op', v: c }); i++; continue; }
    throw new NotLiteral(); // an operator or character no literal has
  }
  out.push({ t: 'end', v: '' });
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\n': '' };

/** A quoted string at the start of `s` (after its prefix): its value and length. */
function readString(s: string, prefix: string): { s: string; len: number } {
  const q = s[0]!;
  const triple = s.startsWith(q.repeat(3));
  const delim = triple ? q.repeat(3) : q;
  const raw = prefix.includes('r');
  const bytes = prefix.includes('b');
  let i = delim.length;
  let out = '';
  for (;;) {
    if (i >= s.length) throw new NotLiteral(); // never closed
    if (s.startsWith(delim, i)) return { s: out, len: i + delim.length };
    const c = s[i]!;
    if (c === '\n' && !triple) throw new NotLiteral();
    if (c !== '\\') { out += c; i++; continue; }
    const n = s[i + 1];
    if (n === undefined) throw new NotLiteral();
    if (raw) { out += c + n; i += 2; continue; }
    if (n in SIMPLE_ESCAPES) { out += SIMPLE_ESCAPES[n]; i += 2; continue; }
    if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(s.slice(i + 1))![0];
      out += String.fromCodePoint(parseInt(m, 8));
      i += 1 + m.length;
      continue;
    }
    const hex = (len: number) => {
      const h = s.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw new NotLiteral();
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) throw new NotLiteral();
      out += String.fromCodePoint(cp);
      i += 2 + len;
    };
    if (n === 'x') { hex(2); continue; }
    if (!bytes && n === 'u') { hex(4); continue; }
    if (!bytes && n === 'U') { hex(8); continue; }
    if (!bytes && n === 'N') throw new Unsupported('a \\N{…} escape (write the character itself)');
    out += c + n; // an unknown escape keeps its backslash
    i += 2;
  }
}

function numberValue(text: string): number {
  const t = text.replace(/_/g, '');
  if (/[jJ]$/.test(t)) throw new Unsupported('a complex number');
  let n: number;
  if (/^0[xX]/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0[oO]/.test(t)) n = parseInt(t.slice(2), 8);
  else if (/^0[bB]/.test(t)) n = parseInt(t.slice(2), 2);
  else if (/[.eE]/.test(t)) {
    n = Number(t);
    if (!Number.isFinite(n)) throw new Unsupported('an infinite float');
    return n;
  } else {
    if (/^0+[1-9]/.test(t)) throw new NotLiteral(); // Python 3: leading zeros are a syntax error
    n = Number(t);
  }
  if (!Number.isSafeInteger(n)) throw new Unsupported('an integer beyond 2^53, which would be rounded');
  return n;
}

/** A recursive-descent reader over the tokens, accepting exactly what ast.literal_eval accepts. */
function readExpression(toks: Tok[]): unknown {
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const expect = (v: string) => {
    const t = next();
    if (t.t !== 'op' || t.v !== v) throw new NotLiteral();
  };
  const isOp = (v: string) => peek().t === 'op' && peek().v === v;

  /** Items up to `close`, with an optional trailing comma; `tuple` says whether a comma was seen. */
  const items = (close: string, item: () => unknown): { values: unknown[]; comma: boolean } => {
    const values: unknown[] = [];
    let comma = false;
    while (!isOp(close)) {
      values.push(item());
      if (isOp(',')) { next(); comma = true; continue; }
      if (!isOp(close)) throw new NotLiteral();
    }
    next();
    return { values, comma };
  };

  const atom = (): unknown => {
    const t = next();
    switch (t.t) {
      case 'num':
        return numberValue(t.v);
      case 'str': {
        const parts: Tok[] = [t];
        while (peek().t === 'str') parts.push(next());
        const kinds = new Set(parts.map((x) => (x.prefix!.includes('b') ? 'b' : 's')));
        if (kinds.size > 1) throw new NotLiteral(); // bytes and str cannot be joined
        if (parts.some((x) => x.prefix!.includes('f'))) throw new NotLiteral(); // f-strings are not literals
        if (kinds.has('b')) throw new Unsupported('a bytes literal');
        return parts.map((x) => x.s).join('');
      }
      case 'name':
        if (t.v === 'True') return true;
        if (t.v === 'False') return false;
        if (t.v === 'None') return null;
        if (t.v === 'set' && isOp('(') && toks[p + 1]?.t === 'op' && toks[p + 1]!.v === ')') throw new Unsupported('a set');
        throw new NotLiteral();
      case 'op':
        if (t.v === '+' || t.v === '-') {
          // Parentheses leave no trace in Python's AST: -(1) is -1 to literal_eval, -(-1) is not.
          let parens = 0;
          while (isOp('(')) (next(), parens++);
          const o = peek();
          if (o.t !== 'num') throw new NotLiteral();
          next();
          for (; parens > 0; parens--) expect(')');
          const n = numberValue(o.v);
          return t.v === '-' ? -n : n;
        }
        if (t.v === '[') return items(']', value).values;
        if (t.v === '(') {
          const r = items(')', value);
          if (r.values.length === 1 && !r.comma) return r.values[0]; // parentheses around one value
          return r.values; // a tuple: a list in variables, as Ansible's JSON shows it
        }
        if (t.v === '{') {
          if (isOp('}')) { next(); return {}; }
          const first = value();
          if (isOp(',') || isOp('}')) throw new Unsupported('a set');
          const out: Record<string, unknown> = {};
          const put = (k: unknown) => {
            expect(':');
            if (typeof k !== 'string') throw new Unsupported('a dict with a key that is not a string');
            out[k] = value();
          };
          put(first);
          while (isOp(',')) {
            next();
            if (isOp('}')) break;
            put(value());
          }
          expect('}');
          return out;
        }
        if (t.v === '...') throw new Unsupported('an ellipsis (...)');
        throw new NotLiteral();
      default:
        throw new NotLiteral();
    }
  };

  const value = (): unknown => {
    const v = atom();
    // literal_eval's one binary operation: a real and an imaginary number (a complex number).
    if ((isOp('+') || isOp('-')) && (typeof v === 'number')) {
      const o = toks[p + 1];
      if (o?.t === 'num' && /[jJ]$/.test(o.v)) throw new Unsupported('a complex number');
      throw new NotLiteral();
    }
    return v;
  };

  // Top level: a bare tuple `1, 2` is a tuple too.
  const first = value();
  let result: unknown = first;
  if (isOp(',')) {
    const values = [first];
    while (isOp(',')) {
      next();
      if (peek().t === 'end') break;
      values.push(value());
    }
    result = values;
  }
  if (peek().t !== 'end') throw new NotLiteral();
  return result;
}

/** `text` read as Python's ast.literal_eval reads it. */
export function pythonLiteral(text: string): PyResult {
  try {
    return { kind: 'value', value: readExpression(tokenize(text)) };
  } catch (e) {
    if (e instanceof NotLiteral) return { kind: 'text' };
    if (e instanceof Unsupported) return { kind: 'unsupported', why: e.message };
    throw e;
  }
}
