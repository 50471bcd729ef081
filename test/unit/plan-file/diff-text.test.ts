import { describe, expect, it } from 'vitest';
import { diffText, fileTexts } from '../../../src/plan-file/diff-text.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';

// The diff a reviewer reads: exact headers, three lines of context, secrets masked.
const reg = new SecretRegistry();
const SECRET = 'diff-text-secret-91c2';
reg.add(SECRET);

describe('diffText', () => {
  it.each([
    ['a new file: from /dev/null', { path: '/etc/x', before: null, after: 'a\nb\n' }, '--- /dev/null\n+++ /etc/x\n@@ -0,0 +1,2 @@\n+a\n+b'],
    ['a removed file: to /dev/null', { path: '/etc/x', before: 'a\nb\n', after: null }, '--- /etc/x\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b'],
    ['an empty new file: headers only', { path: '/etc/x', before: null, after: '' }, '--- /dev/null\n+++ /etc/x'],
    ['nothing on either side', { path: '/etc/x', before: null, after: null }, ''],
    ['a secret file, created or removed', { path: '/etc/k', before: null, after: SECRET, hidden: true }, ''],
  ])('%s', (_n, d, want) => expect(diffText(d, reg)).toBe(want));

  it('three lines of context around a change', () => {
    const lines = (n: number, changed?: number) => Array.from({ length: n }, (_, i) => (i + 1 === changed ? 'CHANGED' : `line ${i + 1}`)).join('\n') + '\n';
    expect(diffText({ path: '/f', before: lines(12), after: lines(12, 6) }, reg)).toBe(
      '--- /f\n+++ /f\n@@ -3,7 +3,7 @@\n line 3\n line 4\n line 5\n-line 6\n+CHANGED\n line 7\n line 8\n line 9',
    );
  });

  it('content lines that look like headers stay as they are', () => {
    const d = diffText({ path: '/f', before: 'x\n', after: 'Index: a\n====\n-- dash\t\n++ plus\t\n' }, reg);
    expect(d.split('\n')).toEqual(['--- /f', '+++ /f', '@@ -1,1 +1,4 @@', '-x', '+Index: a', '+====', '+-- dash\t', '+++ plus\t']);
  });

  it('a value under a secret-looking key is masked on content lines, even when no run knows it', () => {
    const d = diffText({ path: '/f', before: 'port: 1\npassword: not-registered-1\n', after: 'port: 2\npassword: not-registered-1\n' }, reg);
    expect(d).toBe('--- /f\n+++ /f\n@@ -1,2 +1,2 @@\n-port: 1\n+port: 2\n password: ********');
  });

  it('a secret replaced by another shows as changed, both masked, in a new and a removed file too', () => {
    expect(diffText({ path: '/f', before: 'auth = former-value-77\n', after: `auth = ${SECRET}\n` }, reg)).toBe('--- /f\n+++ /f\n@@ -1,1 +1,1 @@\n-auth = ********\n+auth = ********');
    expect(diffText({ path: '/f', before: null, after: `auth = ${SECRET}\n` }, reg)).toContain('+auth = ********');
    expect(diffText({ path: '/f', before: `auth = ${SECRET}\n`, after: null }, reg)).toContain('-auth = ********');
  });
});

describe('fileTexts: the whole texts run --json gives', () => {
  it.each([
    ['a change: the former value masked where the new secret stands', { path: '/f', before: 'auth = former-value-77\nx = 1\n', after: `auth = ${SECRET}\nx = 2\n` }, { before: 'auth = ********\nx = 1\n', after: 'auth = ********\nx = 2\n' }],
    ['a new file', { path: '/f', before: null, after: `auth = ${SECRET}\n` }, { before: null, after: 'auth = ********\n' }],
    ['a removed file: its own secrets masked', { path: '/f', before: `auth = ${SECRET}\ntoken: never-registered\n`, after: null }, { before: 'auth = ********\ntoken: ********\n', after: null }],
    ['nothing secret: as it is', { path: '/f', before: 'a\n', after: 'b\n' }, { before: 'a\n', after: 'b\n' }],
  ])('%s', (_n, d, want) => expect(fileTexts(d, reg)).toEqual(want));
});
