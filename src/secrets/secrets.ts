import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';

/**
 * Every secret value the run has seen. Output layers call mask() on everything they print, so a
 * secret is hidden wherever it ends up: progress, diffs, errors, JSON, plan files.
 */
const known = new Set<string>();
const MASK = '********';

export function registerSecret(value: string): string {
  // Very short values would mask innocent text everywhere; schemas demand a usable length anyway.
  if (value.length >= 4) known.add(value);
  return value;
}

export function isRegisteredSecret(value: string): boolean {
  return known.has(value);
}

export function mask(text: string): string {
  if (known.size === 0 || !text) return text;
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const s of [...known].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Masks, in a line of a file's current text, a value that stands where the new text has a secret.
 * A secret being replaced (rotated, or given differently) is not known to this run, yet it sits on
 * the line the new secret is on: "static-auth-secret=OLD" matches "static-auth-secret=NEW", and
 * is shown as "static-auth-secret=********".
 */
export function formerMasker(after: string): (line: string) => string {
  const lines = new Map<string, RegExp>();
  if (known.size) {
    for (const line of after.split('\n')) {
      const masked = mask(line);
      if (masked !== line && !lines.has(masked)) lines.set(masked, new RegExp(`^${masked.split(MASK).map(escapeRe).join('.+?')}$`));
    }
  }
  return (line) => {
    for (const [masked, re] of lines) if (re.test(line)) return masked;
    return line;
  };
}

/** How the name of a variable (or a config key) that holds a secret ends. */
const SECRET_NAME_ENDINGS = ['secret', 'password', 'passwd', 'token', 'pepper', 'private_key'];
const SECRET_NAME = new RegExp(`(${SECRET_NAME_ENDINGS.join('|')})$`, 'i');

/**
 * `key: value`, `key=value` and `"key": "value"` whose key names a secret (…secret, …password,
 * …token, …_pass, …): the value is masked even when no run knows it, as in a file being removed
 * with the password it held, or a literal a template carries. Booleans and numbers stay
 * (`registration_requires_token: true` is a setting, not a secret), and so do block indicators.
 */
const SECRET_ASSIGNMENT = new RegExp(
  `(^|[\\s{,"'-])([\\w.-]*(?:${[...SECRET_NAME_ENDINGS, 'secret_key', '[_-]pass'].join('|')}))(["']?\\s*[:=]\\s*)("[^"]*"|'[^']*'|[^\\s,}\\]#;]+)`,
  'gi',
);
const NOT_SECRET_VALUE = /^(["']?)(true|false|yes|no|on|off|null|~|-?\d+(\.\d+)?|[|>][-+]?|\*{8})\1$/i;

export function maskSecretAssignments(line: string): string {
  return line.replace(SECRET_ASSIGNMENT, (all, pre: string, key: string, sep: string, value: string) => {
    if (NOT_SECRET_VALUE.test(value) || value === '""' || value === "''") return all;
    const quote = value[0] === '"' || value[0] === "'" ? value[0] : '';
    return `${pre}${key}${sep}${quote}${MASK}${quote}`;
  });
}

/** Every line of a text through maskSecretAssignments. */
export function maskSecretLines(text: string): string {
  return text.split('\n').map(maskSecretAssignments).join('\n');
}

/** A file's whole current text with formerMasker applied to every line. */
export function maskFormer(before: string, after: string): string {
  return before.split('\n').map(formerMasker(after)).join('\n');
}

/**
 * A key made of every secret value known: saved plans key their fingerprints with it, so a
 * fingerprint cannot be used to test a guess of one secret without knowing all of them.
 */
export function secretsKey(): Buffer {
  return createHash('sha256').update([...known].sort().join('\0')).digest();
}

/** A role variable holding a secret: validated as a non-empty string and masked in every output. */
export function secret() {
  return z
    .string()
    .min(8, 'a secret must have at least 8 characters')
    .transform((v) => registerSecret(v))
    .meta({ secret: true });
}

/**
 * A stable secret derived from the inventory's master secret, so nothing random is generated on the
 * control machine and lost: the same master and purpose always give the same value.
 */
export function deriveSecret(master: string, purpose: string): string {
  return registerSecret(createHmac('sha256', master).update(purpose).digest('base64url').slice(0, 40));
}

/** Variable names that look like secrets: masked by `mxplay inventory` even without a role schema. */
export function looksSecret(key: string): boolean {
  return SECRET_NAME.test(key);
}
