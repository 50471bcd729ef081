import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addHostKey, checkHostKey, keyTypeOf, knownHostsName } from '../../../src/transport/known-hosts.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** An SSH wire-format key blob: string type, then some key bytes. */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(seed.padEnd(32, '.'))]);
}
const ED = 'ssh-ed25519';
const RSA = 'ssh-rsa';
const key1 = blob(ED, 'one');
const key2 = blob(ED, 'two');
const rsa = blob(RSA, 'rsa');
const b64 = (b: Buffer) => b.toString('base64');

/** OpenSSH's HashKnownHosts form: |1|base64(salt)|base64(HMAC-SHA1(salt, name)). */
function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

function kh(lines: string[]): string {
  return join(writeTree(tempDir(), { known_hosts: lines.join('\n') + '\n' }), 'known_hosts');
}

describe('knownHostsName', () => {
  it('bare for port 22, [host]:port otherwise', () => {
    expect(knownHostsName('hs1.example.org', 22)).toBe('hs1.example.org');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });
});

describe('checkHostKey', () => {
  const names = ['hs1.example.org'];
  it.each([
    ['plain entry, same key', [`hs1.example.org ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['one of several comma-separated names', [`other,hs1.example.org,10.0.0.1 ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['a trailing comment is fine', [`hs1.example.org ${ED} ${b64(key1)} root@hs1`], names, { kind: 'match' }],
    ['[host]:port entry', [`[hs1.example.org]:2222 ${ED} ${b64(key1)}`], ['[hs1.example.org]:2222'], { kind: 'match' }],
    ['[host]:port does not match the bare name', [`[hs1.example.org]:2222 ${ED} ${b64(key1)}`], names, { kind: 'unknown' }],
    ['bare entry does not match another port', [`hs1.example.org ${ED} ${b64(key1)}`], ['[hs1.example.org]:2222'], { kind: 'unknown' }],
    ['hashed entry', [`${hashed('hs1.example.org')} ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['hashed [host]:port entry', [`${hashed('[hs1.example.org]:2222')} ${ED} ${b64(key1)}`], ['[hs1.example.org]:2222'], { kind: 'match' }],
    ['hashed entry of another host', [`${hashed('other')} ${ED} ${b64(key2)}`], names, { kind: 'unknown' }],
    ['second alias name matches', [`10.0.0.1 ${ED} ${b64(key1)}`], ['hs1.example.org', '10.0.0.1'], { kind: 'match' }],
    ['negated name never matches', [`!hs1.example.org,hs1.example.org ${ED} ${b64(key1)}`], names, { kind: 'unknown' }],
    ['comments and blank lines skipped', ['# hs1.example.org ' + ED + ' ' + b64(key2), '', `hs1.example.org ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['same type, other key: mismatch with its line', ['# header', `other ${ED} ${b64(key2)}`, `hs1.example.org ${ED} ${b64(key2)}`], names, { kind: 'mismatch', line: 3 }],
    ['hashed, other key: mismatch', [`${hashed('hs1.example.org')} ${ED} ${b64(key2)}`], names, { kind: 'mismatch', line: 1 }],
    ['only a key of another type known: unknown (not a mismatch)', [`hs1.example.org ${RSA} ${b64(rsa)}`], names, { kind: 'unknown' }],
    ['a stale line and a good one: the good one wins', [`hs1.example.org ${ED} ${b64(key2)}`, `hs1.example.org ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['host not listed', [`other ${ED} ${b64(key1)}`], names, { kind: 'unknown' }],
    ['@revoked key is refused even if also listed as good', [`hs1.example.org ${ED} ${b64(key1)}`, `@revoked * ${ED} ${b64(key1)}`], names, { kind: 'mismatch', line: 2, revoked: true }],
    ['@revoked of another key does not matter', [`@revoked * ${ED} ${b64(key2)}`, `hs1.example.org ${ED} ${b64(key1)}`], names, { kind: 'match' }],
    ['@cert-authority lines are not host keys: no false mismatch', [`@cert-authority hs1.example.org ${ED} ${b64(key2)}`], names, { kind: 'unknown' }],
    ['malformed lines are skipped', ['hs1.example.org', `hs1.example.org ${ED}`], names, { kind: 'unknown' }],
  ])('%s', (_n, lines, ns, want) => {
    expect(checkHostKey(kh(lines), ns, ED, key1)).toEqual(want);
  });

  it('no file: unknown', () => {
    expect(checkHostKey('/nonexistent/known_hosts', names, ED, key1)).toEqual({ kind: 'unknown' });
  });

  it('addHostKey appends an entry that then matches; the folder is created', () => {
    const f = join(tempDir(), 'new/.ssh/known_hosts');
    addHostKey(f, '[10.0.0.1]:2222', ED, key1);
    expect(readFileSync(f, 'utf8')).toBe(`[10.0.0.1]:2222 ${ED} ${b64(key1)}\n`);
    expect(checkHostKey(f, ['[10.0.0.1]:2222'], ED, key1)).toEqual({ kind: 'match' });
    expect(checkHostKey(f, ['[10.0.0.1]:2222'], ED, key2)).toEqual({ kind: 'mismatch', line: 1 });
  });

  it('keyTypeOf reads the type from the blob', () => {
    expect(keyTypeOf(key1)).toBe(ED);
    expect(keyTypeOf(rsa)).toBe(RSA);
  });
});
