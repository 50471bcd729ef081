import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { MASK, type SecretRegistry } from './registry.ts';

/** How the name of a variable (or a config key) that holds a secret ends. */
const SECRET_NAME_ENDINGS = ['secret', 'password', 'passwd', 'token', 'pepper', 'private_key'];
const SECRET_NAME = new RegExp(`(${[...SECRET_NAME_ENDINGS, '[_-]pass'].join('|')})$`, 'i');

/**
 * `key: value`, `key=value` and `"key": "value"` whose key names a secret (…secret, …password,
 * …token, …_pass, …): the value is masked even when no run knows it, as in a file being removed
 * with the password it held, or a literal a template carries. Booleans and numbers stay
 * (`registration_requires_token: true` is a setting, not a secret), and so do block indicators.
 */
const SECRET_ASSIGNMENT = new RegExp(
  `(^|[\\s{,"'-])([\\w.-]*(?:${[...SECRET_NAME_ENDINGS, 'secret_key', '[_-]pass'].join('|')}))(["']?\\s*[:=]\\s*)("(?:[^"\\\\]|\\\\.)*"?|'(?:[^']|'')*'?|[^\\s,}\\]#;](?:[^,}\\]#;]*[^\\s,}\\]#;])?)`,
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

/** A role variable holding a secret: validated as a non-empty string and masked in every output. */
export function secret() {
  return z
    .string()
    .min(8, 'a secret must have at least 8 characters')
    .meta({ secret: true });
}

/**
 * A stable secret derived from the inventory's master secret, so nothing random is generated on the
 * control machine and lost: the same master and purpose always give the same value.
 */
export function deriveSecret(master: string, purpose: string): string {
  return createHmac('sha256', master).update(purpose).digest('base64url').slice(0, 40);
}

/** Variable names that look like secrets: masked by `mxplay inventory` even without a role schema. */
export function looksSecret(key: string): boolean {
  return SECRET_NAME.test(key);
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  items?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Adds to the run's registry every value that a schema declares secret(), at any depth
 * (`postgres_users[].password` as well as `synapse_db_password`), from the validated data.
 */
export function collectSecrets(schema: z.ZodType, value: unknown, into: SecretRegistry): void {
  if (value === undefined || value === null) return;
  if ((schema.meta() as { secret?: boolean } | undefined)?.secret && typeof value === 'string') into.add(value);
  const d = defOf(schema);
  const rec = value as Record<string, unknown>;
  switch (d.type) {
    case 'object':
      if (typeof value === 'object') for (const [k, s] of Object.entries(d.shape ?? {})) collectSecrets(s, rec[k], into);
      break;
    case 'array':
      if (Array.isArray(value)) for (const x of value) collectSecrets(d.element!, x, into);
      break;
    case 'tuple':
      if (Array.isArray(value)) d.items?.forEach((s, i) => collectSecrets(s, value[i], into));
      break;
    case 'record':
      if (typeof value === 'object') for (const x of Object.values(rec)) collectSecrets(d.valueType!, x, into);
      break;
    case 'union':
      for (const o of d.options ?? []) collectSecrets(o, value, into);
      break;
    case 'intersection':
      collectSecrets(d.left!, value, into);
      collectSecrets(d.right!, value, into);
      break;
    case 'pipe':
      collectSecrets(d.in!, value, into);
      collectSecrets(d.out!, value, into);
      break;
    case 'lazy':
      collectSecrets(d.getter!(), value, into);
      break;
    default:
      if (d.innerType) collectSecrets(d.innerType, value, into);
  }
}
