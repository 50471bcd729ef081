import { describe, expect, it } from 'vitest';
import { deriveSecret, isRegisteredSecret, looksSecret, mask, registerSecret, secret } from '../../../src/secrets/secrets.ts';
import { unifiedDiff } from '../../../src/ui/diff.ts';

// Secrets are process-wide; every test registers its own distinct values.

describe('mask', () => {
  it('hides every registered secret, every occurrence', () => {
    registerSecret('hunter2-pass');
    registerSecret('Zm9vYmFyYmF6');
    expect(mask('password=hunter2-pass token=Zm9vYmFyYmF6 again hunter2-pass')).toBe('password=******** token=******** again ********');
  });

  it('longest first: a secret containing another is hidden whole', () => {
    registerSecret('abcd1234');
    registerSecret('xxabcd1234yy');
    expect(mask('k=xxabcd1234yy')).toBe('k=********');
    expect(mask('k=abcd1234')).toBe('k=********');
  });

  it('values shorter than 4 characters are not registered (they would mask innocent text)', () => {
    registerSecret('ab');
    expect(isRegisteredSecret('ab')).toBe(false);
    expect(mask('a tab b')).toBe('a tab b');
  });

  it('text without secrets is returned unchanged', () => {
    expect(mask('')).toBe('');
    expect(mask('nothing to see')).toBe('nothing to see');
  });

  it('secret() validates a string of 8+ characters and registers it', () => {
    expect(secret().safeParse('short').success).toBe(false);
    expect(secret().safeParse(12345678).success).toBe(false);
    const r = secret().safeParse('long-enough-1');
    expect(r.success && r.data).toBe('long-enough-1');
    expect(mask('x long-enough-1 y')).toBe('x ******** y');
  });
});

describe('deriveSecret', () => {
  const master = 'master-secret-0123456789';
  it('is stable for the same master and purpose', () => {
    expect(deriveSecret(master, 'hs1:synapse_macaroon')).toBe(deriveSecret(master, 'hs1:synapse_macaroon'));
  });
  it('differs per purpose and per master', () => {
    const a = deriveSecret(master, 'hs1:synapse_macaroon');
    expect(deriveSecret(master, 'hs1:synapse_registration')).not.toBe(a);
    expect(deriveSecret(master, 'hs2:synapse_macaroon')).not.toBe(a);
    expect(deriveSecret(master + 'x', 'hs1:synapse_macaroon')).not.toBe(a);
  });
  it('is 40 URL-safe characters, registered for masking', () => {
    const s = deriveSecret(master, 'p');
    expect(s).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(mask(`secret: ${s}`)).toBe('secret: ********');
  });
  it('is an HMAC of the purpose, not the master itself', () => {
    expect(deriveSecret(master, 'p')).not.toContain(master.slice(0, 8));
  });
});

describe('looksSecret', () => {
  it.each([
    ['postgres_password', true],
    ['synapse_registration_shared_secret', true],
    ['api_token', true],
    ['PASSWD', true],
    ['tls_private_key', true],
    ['password_file', false],
    ['secret_file', false],
    ['server_name', false],
    ['password_policy', false],
  ])('%s → %s', (k, want) => expect(looksSecret(k)).toBe(want));
});

describe('unifiedDiff', () => {
  it('a changed secret shows ******** and never the value, old or new', () => {
    registerSecret('old-db-pass-1');
    registerSecret('new-db-pass-2');
    const d = unifiedDiff({ path: '/etc/app.yaml', before: 'host: db\npassword: old-db-pass-1\nport: 5432\n', after: 'host: db\npassword: new-db-pass-2\nport: 5433\n' }, false);
    expect(d).not.toContain('old-db-pass-1');
    expect(d).not.toContain('new-db-pass-2');
    expect(d).toContain('--- /etc/app.yaml');
    expect(d).toContain('+++ /etc/app.yaml');
    expect(d).toContain('-port: 5432');
    expect(d).toContain('+port: 5433');
    expect(d).toContain(' password: ********'); // the same after masking: context, not a change
  });

  it('a new file diffs from /dev/null with secrets masked', () => {
    registerSecret('fresh-secret-3');
    const d = unifiedDiff({ path: '/etc/x', before: null, after: 'key: fresh-secret-3\n' }, false);
    expect(d).toMatch(/^--- \/dev\/null\n\+\+\+ \/etc\/x\n@@ -0,0 \+1,1 @@\n\+key: \*\*\*\*\*\*\*\*$/);
  });

  it('a removed file diffs to /dev/null', () => {
    const d = unifiedDiff({ path: '/etc/x', before: 'a\n', after: null }, false);
    expect(d).toContain('+++ /dev/null');
    expect(d).toContain('-a');
  });

  it('a hidden (sensitive) diff says only that it changes', () => {
    expect(unifiedDiff({ path: '/etc/k', before: 'unregistered-1', after: 'unregistered-2', hidden: true }, false)).toBe('(secret content changes; not shown)');
    expect(unifiedDiff({ path: '/etc/k', before: 'unregistered-1', after: null, hidden: true }, false)).toBe('(secret content removed)');
  });

  it('nothing to show: empty', () => {
    expect(unifiedDiff({ path: '/x', before: null, after: null }, false)).toBe('');
  });

  it('no Index/==== header lines and no trailing tab on the file lines', () => {
    const d = unifiedDiff({ path: '/x', before: 'a\n', after: 'b\n' }, false);
    expect(d.split('\n').slice(0, 2)).toEqual(['--- /x', '+++ /x']);
    expect(d).not.toMatch(/\t$/m);
  });
});
