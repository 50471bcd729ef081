import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { toYaml } from '../resources/yaml.ts';

export const MASK = '********';

/** Shorter renderings would mask innocent text everywhere; secrets themselves have 8+ characters. */
const MIN_FORM = 6;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The inside of a quoted rendering: the quotes themselves belong to the surrounding text. */
const inner = (quoted: string, open: number, close: number) => quoted.slice(open, quoted.length - close);

/**
 * The value as the project's YAML files hold it (toYaml: quoted and escaped for PyYAML), and as the
 * YAML library quotes it otherwise (double and single quoted), inside the quotes.
 */
function yamlForms(v: string): string[] {
  const written = toYaml({ k: v }).slice(3).replace(/\n$/, '');
  const out: string[] = /^["']/.test(written) ? [inner(written, 1, 1)] : [];
  for (const type of ['QUOTE_DOUBLE', 'QUOTE_SINGLE'] as const) {
    const text = stringify(v, { defaultStringType: type, lineWidth: 0 }).replace(/\n$/, '');
    if (text.startsWith('"') || text.startsWith("'")) out.push(inner(text, 1, 1));
  }
  return out;
}

/**
 * Base64 of the value as it appears inside a longer base64 text: the value can start at any of the
 * three byte offsets of a group. Only the characters made of the value's bytes alone are kept.
 */
function base64Forms(v: string): string[] {
  const bytes = Buffer.from(v);
  const out: string[] = [];
  for (const offset of [0, 1, 2]) {
    const lead = (3 - offset) % 3; // bytes of the value that share a group with what comes before
    const body = bytes.subarray(lead);
    const whole = body.subarray(0, body.length - (body.length % 3));
    if (!whole.length) continue;
    const b64 = whole.toString('base64');
    out.push(b64, b64.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}

/** HTML escaped, with `"` as the entity given: `quot`, or `#34` as EJS writes it. */
const html = (v: string, quot: string) => v.replace(/[&<>"']/g, (ch) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': quot, "'": '#39' }[ch]};`);

/**
 * Every way a secret can be written out by the serializers the project uses: as it is, JSON and
 * YAML escaped (double and single quoted), shell quoted, URL and form encoded, HTML escaped, in
 * base64 at any alignment, and each line of any of these.
 */
export function renderings(v: string): string[] {
  const forms = [
    v,
    inner(JSON.stringify(v), 1, 1),
    ...yamlForms(v),
    v.replaceAll("'", `'\\''`),
    v.replaceAll("'", `'"'"'`),
    encodeURIComponent(v),
    encodeURI(v),
    encodeURIComponent(v).replaceAll('%20', '+'),
    new URLSearchParams({ k: v }).toString().slice(2), // form encoding: also ( ) ! ' ~ escaped
    html(v, 'quot'),
    html(v, '#34'),
    ...base64Forms(v),
  ];
  // And each line of each: a diff shows a value line by line, and YAML folds a quoted value with
  // line breaks over indented lines.
  return [...new Set(forms.flatMap((f) => [f, ...f.split(/\r?\n/)]))].filter((f) => f.length >= MIN_FORM);
}

/**
 * The secret values of one run, and the one place where output is masked. Every output of the run
 * (progress, plans, diffs, JSON, plan files, errors) goes through the same registry, which is filled
 * from what the run validated: values of secret() variables, derived secrets, the master secret,
 * values read from secret sources.
 */
export class SecretRegistry {
  private readonly values: string[] = [];
  /** Access credentials (SSH and sudo passwords, key passphrases): masked, but not inputs of a plan. */
  private readonly credentials = new Set<string>();
  private compiled: { re: RegExp; owner: (match: string) => number } | null = null;

  /** Adds a secret value (and so all its renderings); returns it, for use in expressions. */
  add(value: string): string {
    if (value.length >= MIN_FORM && !this.values.includes(value)) {
      this.values.push(value);
      this.compiled = null;
    }
    return value;
  }

  /**
   * A password or passphrase used to reach hosts: masked like every secret, but left out of key(),
   * so a plan made with a passphrase typed in is not refused at apply for one held by the agent.
   */
  addCredential(value: string): string {
    if (value.length >= MIN_FORM) this.credentials.add(value);
    return this.add(value);
  }

  has(value: string): boolean {
    return this.values.includes(value);
  }

  get size(): number {
    return this.values.length;
  }

  /**
   * One pattern for every rendering of every secret, longest first (a secret containing another is
   * masked whole). A value with line breaks also matches as YAML writes it in a block (its lines
   * indented), so a diff never shows its lines one by one.
   */
  private compile() {
    if (this.compiled || !this.values.length) return this.compiled;
    const owners = new Map<string, number>();
    this.values.forEach((v, i) => renderings(v).forEach((f) => owners.has(f) || owners.set(f, i)));
    const blocks = this.values.map((v, i) => ({ i, lines: v.split(/\r?\n/) })).filter((b) => b.lines.length > 1);
    const blockRes = blocks.map((b) => ({ i: b.i, re: new RegExp(`^${b.lines.map(escapeRe).join('\\r?\\n[ \\t]*')}$`) }));
    const alternatives = [
      ...blocks.map((b) => b.lines.map(escapeRe).join('\\r?\\n[ \\t]*')),
      ...[...owners.keys()].sort((a, b) => b.length - a.length).map(escapeRe),
    ];
    this.compiled = {
      re: new RegExp(alternatives.join('|'), 'g'),
      owner: (m) => owners.get(m) ?? blockRes.find((b) => b.re.test(m))?.i ?? 0,
    };
    return this.compiled;
  }

  private replace(text: string, by: (owner: number) => string): string {
    const c = this.compile();
    if (!c || !text) return text;
    // Repeated: masking one rendering can join the pieces of another (a value inside a value).
    let out = text;
    for (let i = 0; i < 3; i++) {
      const next = out.replace(c.re, (m) => by(c.owner(m)));
      if (next === out) break;
      out = next;
    }
    return out;
  }

  /** The text with every rendering of every secret replaced by ********. */
  mask(text: string): string {
    return this.replace(text, () => MASK);
  }

  /**
   * Each secret replaced by a token of its own (tokens from Unicode's private use area): diffed
   * texts masked this way still show a line whose secret changed as changed. `untag` turns the
   * tokens into ******** once the diff is made.
   */
  tag(text: string): string {
    return this.replace(text, (i) => `\uE000${i}\uE001`);
  }

  untag(text: string): string {
    return text.replace(/\uE000(\d+|f)\uE001/g, MASK);
  }

  /** Every string inside a JSON-like value masked, digests (64 hex digits) left as they are. */
  maskStrings<T>(v: T): T {
    if (typeof v === 'string') return (/^[0-9a-f]{64}$/.test(v) ? v : this.mask(v)) as T;
    if (Array.isArray(v)) return v.map((x) => this.maskStrings(x)) as T;
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.maskStrings(x)])) as T;
    return v;
  }

  /**
   * Masks, in a line of a file's current text, a value that stands where the new text has a secret.
   * A secret being replaced (rotated, or given differently) is not known to this run, yet it sits on
   * the line the new secret is on: "static-auth-secret=OLD" matches "static-auth-secret=NEW", and
   * is shown as "static-auth-secret=********".
   */
  formerMasker(after: string, tagged = false): (line: string) => string {
    const lines = new Map<string, RegExp>();
    const token = tagged ? /\uE000\d+\uE001/ : MASK;
    if (this.values.length) {
      for (const line of (tagged ? this.tag(after) : this.mask(after)).split('\n')) {
        const parts = line.split(token);
        // Any characters stand for the former value, line separators and CR included.
        if (parts.length > 1 && !lines.has(line)) lines.set(line, new RegExp(`^${parts.map(escapeRe).join('[\\s\\S]+?')}$`));
      }
    }
    return (line) => {
      if (lines.has(line)) return line; // the same secret as now: no change to show
      for (const [masked, re] of lines) {
        // Tagged: the former value gets a token of its own, so the line shows as changed.
        if (re.test(line)) return tagged ? masked.replace(/\uE000\d+\uE001/g, '\uE000f\uE001') : masked;
      }
      return line;
    };
  }

  /** A file's whole former text with formerMasker applied to every line (tagged: the before text is tagged already). */
  maskFormer(before: string, after: string, tagged = false): string {
    return before.split('\n').map(this.formerMasker(after, tagged)).join('\n');
  }

  /**
   * A key made of every secret value known: saved plans key their fingerprints with it, so a
   * fingerprint cannot be used to test a guess of one secret without knowing all of them.
   */
  key(): Buffer {
    return createHash('sha256').update(this.values.filter((v) => !this.credentials.has(v)).sort().join('\0')).digest();
  }
}
