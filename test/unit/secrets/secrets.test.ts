import ejs from 'ejs';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { toYaml } from '../../../src/resources/yaml.ts';
import { file } from '../../../src/resources/file.ts';
import { z } from 'zod';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { collectSecrets, deriveSecret, looksSecret, maskSecretAssignments, secret } from '../../../src/secrets/secrets.ts';
import { diffText } from '../../../src/plan-file/diff-text.ts';
import { changeRecord } from '../../../src/plan-file/make.ts';
import { item } from '../helpers.ts';

// One registry for this file, as one run has one; every test adds its own distinct values.
const reg = new SecretRegistry();

describe('mask', () => {
  it('hides every registered secret, every occurrence', () => {
    reg.add('hunter2-pass');
    reg.add('Zm9vYmFyYmF6');
    expect(reg.mask('password=hunter2-pass token=Zm9vYmFyYmF6 again hunter2-pass')).toBe('password=******** token=******** again ********');
  });

  it('longest first: a secret containing another is hidden whole', () => {
    reg.add('abcd1234');
    reg.add('xxabcd1234yy');
    expect(reg.mask('k=xxabcd1234yy')).toBe('k=********');
    expect(reg.mask('k=abcd1234')).toBe('k=********');
  });

  it('values shorter than 6 characters are not registered (they would mask innocent text)', () => {
    reg.add('abcde');
    expect(reg.has('abcde')).toBe(false);
    expect(reg.mask('a abcde b')).toBe('a abcde b');
  });

  it('text without secrets is returned unchanged', () => {
    expect(reg.mask('')).toBe('');
    expect(reg.mask('nothing to see')).toBe('nothing to see');
  });

  it('secret() validates a string of 8+ characters; validating it registers nothing by itself', () => {
    expect(secret().safeParse('short').success).toBe(false);
    expect(secret().safeParse(12345678).success).toBe(false);
    const r = secret().safeParse('long-enough-1');
    expect(r.success && r.data).toBe('long-enough-1');
    expect(reg.has('long-enough-1')).toBe(false);
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
  it('is 40 URL-safe characters', () => {
    expect(deriveSecret(master, 'p')).toMatch(/^[A-Za-z0-9_-]{40}$/);
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
    ['ansible_become_pass', true],
    ['ansible_ssh_pass', true],
    ['compass', false],
    ['password_file', false],
    ['secret_file', false],
    ['server_name', false],
    ['password_policy', false],
  ])('%s → %s', (k, want) => expect(looksSecret(k)).toBe(want));
});

describe('diffText', () => {
  it('a changed secret shows ******** and never the value, old or new', () => {
    reg.add('old-db-pass-1');
    reg.add('new-db-pass-2');
    const d = diffText({ path: '/etc/app.yaml', before: 'host: db\npassword: old-db-pass-1\nport: 5432\n', after: 'host: db\npassword: new-db-pass-2\nport: 5433\n' }, reg);
    expect(d).not.toContain('old-db-pass-1');
    expect(d).not.toContain('new-db-pass-2');
    expect(d).toContain('--- /etc/app.yaml');
    expect(d).toContain('+++ /etc/app.yaml');
    expect(d).toContain('-port: 5432');
    expect(d).toContain('+port: 5433');
    // Shown as changing, masked on both sides: a reviewer sees that the password changes, not to what.
    expect(d).toContain('-password: ********\n-port: 5432\n+password: ********\n+port: 5433');
  });

  it('a new file diffs from /dev/null with secrets masked', () => {
    reg.add('fresh-secret-3');
    const d = diffText({ path: '/etc/x', before: null, after: 'key: fresh-secret-3\n' }, reg);
    expect(d).toMatch(/^--- \/dev\/null\n\+\+\+ \/etc\/x\n@@ -0,0 \+1,1 @@\n\+key: \*\*\*\*\*\*\*\*$/);
  });

  it('a removed file diffs to /dev/null', () => {
    const d = diffText({ path: '/etc/x', before: 'a\n', after: null }, reg);
    expect(d).toContain('+++ /dev/null');
    expect(d).toContain('-a');
  });

  it('a hidden (sensitive) diff has no text at all: the plan record says only that it changes', () => {
    expect(diffText({ path: '/etc/k', before: 'unregistered-1', after: 'unregistered-2', hidden: true }, reg)).toBe('');
    expect(diffText({ path: '/etc/k', before: 'unregistered-1', after: null, hidden: true }, reg)).toBe('');
  });

  it('nothing to show: empty', () => {
    expect(diffText({ path: '/x', before: null, after: null }, reg)).toBe('');
  });

  it('no Index/==== header lines and no trailing tab on the file lines', () => {
    const d = diffText({ path: '/x', before: 'a\n', after: 'b\n' }, reg);
    expect(d.split('\n').slice(0, 2)).toEqual(['--- /x', '+++ /x']);
    expect(d).not.toMatch(/\t$/m);
  });
});

describe('maskFormer: a replaced secret, unknown to this run, is masked where the new one stands', () => {
  reg.add('new-turn-secret-42');
  reg.add('new-db-pass-77');
  const rows: { name: string; before: string; after: string; want: string }[] = [
    {
      name: 'ini line: the old value on the line of the new one',
      before: 'min-port=1\nstatic-auth-secret=OLD-unknown-1\n',
      after: 'min-port=2\nstatic-auth-secret=new-turn-secret-42\n',
      want: 'min-port=1\nstatic-auth-secret=********\n',
    },
    {
      name: 'YAML with the secret inside a longer value',
      before: 'database:\n  args: { password: "old-pass", host: db }\n',
      after: 'database:\n  args: { password: "new-db-pass-77", host: db }\n',
      want: 'database:\n  args: { password: "********", host: db }\n',
    },
    {
      name: 'lines unlike any secret line are left as they are',
      before: 'user-quota=12\nrealm=example.org\n',
      after: 'user-quota=20\nstatic-auth-secret=new-turn-secret-42\n',
      want: 'user-quota=12\nrealm=example.org\n',
    },
    { name: 'no secret in the new text: nothing to go by', before: 'a=old\n', after: 'a=new\n', want: 'a=old\n' },
  ];
  for (const r of rows) it(r.name, () => expect(reg.maskFormer(r.before, r.after)).toBe(r.want));

  it('the diff shows the secret line changing, both sides masked', () => {
    const d = diffText({ path: '/etc/turnserver.conf', before: 'static-auth-secret=OLD-unknown-2\n', after: 'static-auth-secret=new-turn-secret-42\n' }, reg);
    expect(d).not.toContain('OLD-unknown-2');
    expect(d).toBe('--- /etc/turnserver.conf\n+++ /etc/turnserver.conf\n@@ -1,1 +1,1 @@\n-static-auth-secret=********\n+static-auth-secret=********');
  });
});

describe('maskSecretAssignments: a value under a secret-looking key is masked even when no run knows it', () => {
  it.each([
    ['YAML', 'bind_password: "ldap-old-unknown"', 'bind_password: "********"'],
    ['YAML, unquoted, indented', '    registration_shared_secret: abcdefgh1234', '    registration_shared_secret: ********'],
    ['YAML list item', '- password: hunter2hunter2', '- password: ********'],
    ['ini', 'static-auth-secret=turn-old-unknown', 'static-auth-secret=********'],
    ['env file, upper case', 'JICOFO_AUTH_PASSWORD=old-env-unknown', 'JICOFO_AUTH_PASSWORD=********'],
    ['JSON', '  "smtp_pass": "mail-old-unknown",', '  "smtp_pass": "********",'],
    ['flow map, several on one line', 'args: { user: synapse, password: dbpw-unknown, host: db }', 'args: { user: synapse, password: ********, host: db }'],
    ['a key ending in secret_key', 'macaroon_secret_key: "mac-unknown-1"', 'macaroon_secret_key: "********"'],
    ['a boolean setting whose name ends in token stays', 'registration_requires_token: true', 'registration_requires_token: true'],
    ['a number stays', 'max_token_count = 10', 'max_token_count = 10'],
    ['a block scalar indicator stays', 'private_key: |', 'private_key: |'],
    ['an empty value stays', 'password: ""', 'password: ""'],
    ['keys that only contain a secret word stay', 'password_config: { enabled: false }', 'password_config: { enabled: false }'],
    ['nginx proxy_pass is a directive, not an assignment', 'proxy_pass http://127.0.0.1:8008;', 'proxy_pass http://127.0.0.1:8008;'],
    ['already masked stays as it is', 'password: ********', 'password: ********'],
    ['YAML, unquoted with spaces: masked to the end of the value', 'smtp_pass: pw with spaces @@q 0', 'smtp_pass: ********'],
    ['double quoted with an escaped quote: the whole string', 'password: "a\\"; touch /tmp/x; \\""', 'password: "********"'],
    ['single quoted with a doubled quote: the whole string', "password: 'it''s; touch /tmp/x'", "password: '********'"],
    ['a quote never closed: to the end of the line', 'password: "abc; rm -rf', 'password: "********"'],
  ])('%s', (_name, line, want) => expect(maskSecretAssignments(line)).toBe(want));

  it('a file removed with a secret no run knows any more: its diff shows the key, never the value', () => {
    const d = diffText({ path: '/etc/matrix-synapse/conf.d/ldap.yaml', before: 'password_providers:\n  - config:\n      bind_password: "gone-unknown-secret"\n', after: null }, reg);
    expect(d).not.toContain('gone-unknown-secret');
    expect(d).toContain('-      bind_password: "********"');
  });

  it('the JSON plan masks the same way, before and after', () => {
    const plan = changeRecord(
      { status: 'change', item: item(file({ path: '/etc/x.conf', content: 'password=literal-in-template\n' })), change: { action: '~', summary: 's', script: 'true', diff: { path: '/etc/x.conf', before: 'password=old-literal\n', after: 'password=literal-in-template\n' } } },
      reg,
      { texts: true },
    );
    expect(plan.before).toBe('password=********\n');
    const text = JSON.stringify(plan);
    expect(text).not.toContain('old-literal');
    expect(text).not.toContain('literal-in-template');
    expect(text).toContain('password=********');
  });
});

describe('collectSecrets: every value a schema declares secret(), at any depth', () => {
  const schema = z.object({
    top: secret().optional(),
    users: z.array(z.object({ name: z.string(), password: secret() })).default([]),
    nested: z.object({ inner: z.object({ token: secret() }) }).optional(),
    byName: z.record(z.string(), z.object({ key: secret() })).optional(),
    either: z.union([z.string().regex(/^plain-/), z.object({ pw: secret() })]).optional(),
    plain: z.string().optional(),
    pair: z.tuple([z.string(), secret()]).optional(),
    both: z.intersection(z.object({ a: z.string() }), z.object({ pw: secret() })).optional(),
    piped: secret().transform((x) => x).optional(),
    later: z.lazy(() => z.object({ pw: secret() })).optional(),
  });
  it.each([
    ['a top-level secret', { top: 'top-secret-1' }, ['top-secret-1']],
    ['in a list of objects (postgres_users[].password)', { users: [{ name: 'alice-user', password: 'list-secret-1' }] }, ['list-secret-1']],
    ['nested objects', { nested: { inner: { token: 'deep-secret-1' } } }, ['deep-secret-1']],
    ['record values', { byName: { a: { key: 'record-secret-1' } } }, ['record-secret-1']],
    ['one branch of a union', { either: { pw: 'union-secret-1' } }, ['union-secret-1']],
    ['plain strings are not secrets', { plain: 'plain-value-1', either: 'plain-either' }, []],
    ['the second item of a tuple', { pair: ['not-a-secret', 'tuple-secret-1'] }, ['tuple-secret-1']],
    ['one side of an intersection', { both: { a: 'not-a-secret', pw: 'meet-secret-1' } }, ['meet-secret-1']],
    ['the input of a transform', { piped: 'piped-secret-1' }, ['piped-secret-1']],
    ['inside a lazy schema', { later: { pw: 'lazy-secret-1' } }, ['lazy-secret-1']],
  ])('%s', (_n, value, want) => {
    const r = new SecretRegistry();
    collectSecrets(schema, schema.parse(value), r);
    for (const w of want) expect(r.has(w)).toBe(true);
    expect(r.size).toBe(want.length);
  });
});

describe('every rendering of a secret is masked', () => {
  const secretValue = `pw"; touch /tmp/x; \\ 'q' $(id) \`id\` %20 <b>&\ntail-line`;
  it.each([
    ['JSON', JSON.stringify({ password: secretValue })],
    ['YAML double quoted', `password: "${secretValue.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`],
    ['YAML single quoted', `password: '${secretValue.replaceAll("'", "''").replaceAll('\n', '\n\n')}'`],
    ['shell quoted', `echo '${secretValue.replaceAll("'", `'\\''`)}'`],
    ['URL encoded', `postgres://u:${encodeURIComponent(secretValue)}@db/x`],
    ['HTML escaped', `<p>${secretValue.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)}</p>`],
    ['HTML escaped by an EJS template', ejs.render('<p><%= pw %></p>', { pw: secretValue })],
    ['YAML as the roles write it', toYaml({ password: secretValue })],
    ['YAML double quoted by the library', stringify({ password: secretValue }, { defaultStringType: 'QUOTE_DOUBLE', lineWidth: 0 })],
    ['YAML single quoted by the library', stringify({ password: secretValue }, { defaultStringType: 'QUOTE_SINGLE', lineWidth: 0 })],
    ['shell quoted with double quotes around the quote', `echo '${secretValue.replaceAll("'", `'"'"'`)}'`],
    ['form encoded', new URLSearchParams({ password: secretValue }).toString()],
    ['URL (encodeURI)', encodeURI(`https://x/${secretValue}`)],
    ['base64url', Buffer.from('xy' + secretValue + 'z').toString('base64url')],
    ['line by line, as a diff shows it', secretValue.split('\n').map((l) => `-${l}`).join('\n')],
    ['base64 at offset 0', Buffer.from(secretValue).toString('base64')],
    ['base64 at offset 1', Buffer.from('x' + secretValue + 'y').toString('base64')],
    ['base64 at offset 2', Buffer.from('xy' + secretValue + 'z').toString('base64')],
  ])('%s', (_n, text) => {
    // A registry per test: it compiles its pattern once, at its first mask.
    const r = new SecretRegistry();
    r.add(secretValue);
    const out = r.mask(text);
    expect(out).toContain('********');
    // Nothing of the secret is left: no 6 characters of it, also once the text is decoded, and no 8
    // characters of the encoded form.
    const decoded = [out, ...[decodeURIComponent, (t: string) => t.replaceAll('+', ' '), (t: string) => new URLSearchParams(t).toString(), (t: string) => [...new URLSearchParams(t).values()].join()]
      .flatMap((d) => { try { return [d(out)]; } catch { return []; } })];
    for (let i = 0; i + 6 <= secretValue.length; i++) for (const d of decoded) expect(d).not.toContain(secretValue.slice(i, i + 6));
    const b64 = Buffer.from(secretValue).toString('base64');
    for (let i = 4; i + 8 <= b64.length - 4; i += 4) expect(out).not.toContain(b64.slice(i, i + 8));
  });
});

describe('access credentials', () => {
  it('are masked like every secret but are not inputs of a plan (the key of its fingerprints)', () => {
    const r = new SecretRegistry();
    r.add('inventory-secret-1');
    const before = r.key().toString('hex');
    r.addCredential('sudo-password-typed-in');
    expect(r.mask('[sudo] sudo-password-typed-in')).toBe('[sudo] ********');
    expect(r.key().toString('hex')).toBe(before);
    r.add('another-input-secret');
    expect(r.key().toString('hex')).not.toBe(before);
  });
});
