import { createHmac } from 'node:crypto';
import { sha256 } from '../resources/file.ts';
import type { SecretRegistry } from '../secrets/registry.ts';

/** JSON with object keys sorted at every level: equal data gives equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Fingerprint of probed state or of a planned change. Keyed with every secret value of the run:
 * states and scripts can hold secrets (a file's old content, a password), and a plain hash of them
 * would let whoever reads the plan test guesses offline.
 */
export function fingerprint(value: unknown, secrets: SecretRegistry): string {
  return createHmac('sha256', secrets.key()).update(canonicalJson(value)).digest('hex');
}

/** Whether any secret value of the run changed, without saying anything about one. */
export function secretsDigest(secrets: SecretRegistry): string {
  return fingerprint('mxplay plan: the secret values of the run', secrets);
}

/**
 * Digest of an input file, taken with every secret value masked: a plain hash of a small vars file
 * would let a guess of its secret be tested; a changed secret shows in secretsDigest() instead.
 */
export function inputDigest(content: string, secrets: SecretRegistry): string {
  return sha256(secrets.mask(content));
}
