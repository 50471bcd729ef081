import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { diffText } from '../../../src/plan-file/diff-text.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { collectSecrets, maskSecretAssignments, secret } from '../../../src/secrets/secrets.ts';

// Each test makes its own registry: what one registers must not help another.
const registry = (...values: string[]) => {
  const r = new SecretRegistry();
  for (const v of values) r.add(v);
  return r;
};

describe('mask: which occurrence, which secret', () => {
  it('a secret that starts another is masked whole, whatever order they came in', () => {
    expect(registry('abcdef12', 'abcdef12345').mask('x abcdef12345 y')).toBe('x ******** y');
    expect(registry('abcdef12345', 'abcdef12').mask('x abcdef12345 y')).toBe('x ******** y');
  });

  it('every occurrence, however many', () => {
    expect(registry('s3cret-v').mask('s3cret-v '.repeat(5).trim())).toBe('******** '.repeat(5).trim());
  });

  it('a secret needing JSON escapes: the quotes around it stay', () => {
    const v = 'a"b\\c-secret';
    expect(registry(v).mask(JSON.stringify({ k: v, n: 1 }))).toBe('{"k":"********","n":1}');
  });

  it('single-quoted YAML doubles a quote: masked there too', () => {
    expect(registry("it's-a-secret").mask("k: 'it''s-a-secret'")).toBe("k: '********'");
  });

  it('maskStrings masks strings only: numbers, booleans and null stay', () => {
    expect(registry('s3cret-v').maskStrings({ n: 5, b: true, z: null, s: 'x s3cret-v', a: [1, 's3cret-v'] })).toEqual({ n: 5, b: true, z: null, s: 'x ********', a: [1, '********'] });
  });

  it('a secret of six characters is one; of five, none', () => {
    expect(registry('abc123').mask('abc123')).toBe('********');
    expect(registry('abc12').mask('abc12')).toBe('abc12');
  });
});

describe('tags: one token per secret, also for a secret written as a YAML block', () => {
  it('each multi-line secret found as a block gets its own token', () => {
    const r = registry('first-line-a\nsecond-line-a', 'first-line-b\nsecond-line-b');
    expect(r.tag('k: |\n  first-line-b\n  second-line-b\n')).toBe('k: |\n  \uE0001\uE001\n');
    expect(r.tag('k: |\n  first-line-a\n  second-line-a\n')).toBe('k: |\n  \uE0000\uE001\n');
  });
});

describe('a replaced secret in a diff', () => {
  const many = Array.from({ length: 12 }, (_, i) => `secret-number-${i}-x`);

  it('the eleventh secret and later (two-digit tokens) are matched like the first', () => {
    const r = registry(...many);
    const d = diffText({ path: '/f', before: 'auth = former-value-1\n', after: `auth = ${many[11]}\n` }, r);
    expect(d).toBe('--- /f\n+++ /f\n@@ -1,1 +1,1 @@\n-auth = ********\n+auth = ********');
  });

  it('a secret that stays is context, not a change', () => {
    const r = registry(...many);
    const d = diffText({ path: '/f', before: `auth = ${many[3]}\nport = 1\n`, after: `auth = ${many[3]}\nport = 2\n` }, r);
    expect(d).toBe('--- /f\n+++ /f\n@@ -1,2 +1,2 @@\n auth = ********\n-port = 1\n+port = 2');
  });
});

describe('key(): the secrets, not the credentials', () => {
  it('a credential of six characters or more is left out', () => {
    const a = registry('secret-one');
    a.addCredential('abcdef');
    expect(a.key()).toEqual(registry('secret-one').key());
    expect(a.mask('abcdef')).toBe('********');
  });

  it('two secrets are not their concatenation', () => {
    expect(registry('abcdefgh', 'ijklmnop').key()).not.toEqual(registry('abcdefghijklmnop').key());
  });
});

describe('maskSecretAssignments: settings stay, values go', () => {
  it.each([
    'password: true', 'token: -12', 'token: 5', 'secret: 1.25', 'secret: "true"', "password: 'no'", 'password: |', 'password: |-', 'password: >+',
    'password: ********', 'password: ""', "password: ''", 'api_token = 10',
  ])('%s stays', (line) => expect(maskSecretAssignments(line)).toBe(line));

  it.each([
    ['password: 12a', 'password: ********'], ['password: 1.', 'password: ********'], ['token: truex', 'token: ********'],
    ['password: *', 'password: ********'], ['password: |x', 'password: ********'], ['password: 1.5x', 'password: ********'],
    ['password: 1e5', 'password: ********'], ['password: --1', 'password: ********'], ['password: "a"', 'password: "********"'],
  ])('%s → %s', (line, want) => expect(maskSecretAssignments(line)).toBe(want));
});

describe('secret() and collectSecrets', () => {
  it('a short secret is refused, saying why', () => {
    const r = secret().safeParse('short');
    expect(r.success ? '' : r.error.issues[0]!.message).toBe('a secret must have at least 8 characters');
  });

  it('no value: nothing to collect, nothing thrown', () => {
    const into = new SecretRegistry();
    collectSecrets(z.object({ a: secret() }).nullable(), null, into);
    collectSecrets(z.object({ a: secret() }).optional(), undefined, into);
    expect(into.size).toBe(0);
  });

  it('tuples: each item by its own schema', () => {
    const into = new SecretRegistry();
    collectSecrets(z.tuple([z.string(), secret()]), ['plain-value-1', 'tuple-secret-1'], into);
    expect(into.has('tuple-secret-1')).toBe(true);
    expect(into.has('plain-value-1')).toBe(false);
  });
});
