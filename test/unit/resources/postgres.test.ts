import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  passwordMatches, planPostgresDatabase, planPostgresRole, planPostgresSetting,
  type PostgresDatabaseState, type PostgresRoleState,
} from '../../../src/resources/postgres.ts';
import { decoded } from '../helpers.ts';

// Stored by PostgreSQL 18.6 (Debian sid, a lab host) for CREATE ROLE synapse PASSWORD 'secret-pass'.
const SCRAM = 'SCRAM-SHA-256$4096:0IX0DxJpVLTNtWXI5Mk4/w==$nZB8awFjGPYbUaid8FK1vayMgZ4PcyoBWreceTcmJaY=:nHJnq4shOZvCTMdAZo3PBVV2c3PQAmFQRDRhZi5N7Bg=';

describe('passwordMatches', () => {
  it('md5 verifiers are md5(password + user)', () => {
    const v = 'md5' + createHash('md5').update('pw-123456' + 'synapse').digest('hex');
    expect(passwordMatches(v, 'synapse', 'pw-123456')).toBe(true);
    expect(passwordMatches(v, 'synapse', 'other-pass')).toBe(false);
    expect(passwordMatches(v, 'other', 'pw-123456')).toBe(false);
  });
  it('no verifier or an unknown format never matches', () => {
    expect(passwordMatches(undefined, 'u', 'p')).toBe(false);
    expect(passwordMatches('', 'u', 'p')).toBe(false);
    expect(passwordMatches('plain', 'u', 'plain')).toBe(false);
  });
  it('a SCRAM verifier made by PostgreSQL matches its password and no other', () => {
    expect(passwordMatches(SCRAM, 'synapse', 'secret-pass')).toBe(true);
    expect(passwordMatches(SCRAM, 'synapse', 'not-the-password')).toBe(false);
  });
});

describe('planPostgresRole', () => {
  const rows: { name: string; s: PostgresRoleState; password?: string; want: null | { action: string; has: string[]; unresolved?: string } }[] = [
    { name: 'server not installed: known later', s: { down: 'PostgreSQL is not installed' }, want: { action: '?', has: [], unresolved: 'PostgreSQL is not installed' } },
    { name: 'missing role is created with its password', s: { exists: false }, password: 'pw-123456', want: { action: '+', has: ['CREATE ROLE "synapse" LOGIN PASSWORD \'pw-123456\''] } },
    { name: 'wrong password is set again', s: { exists: true, verifier: 'md5' + '0'.repeat(32) }, password: 'pw-123456', want: { action: '~', has: ['ALTER ROLE "synapse" LOGIN PASSWORD'] } },
    { name: 'right password: nothing to do', s: { exists: true, verifier: 'md5' + createHash('md5').update('pw-123456synapse').digest('hex') }, password: 'pw-123456', want: null },
    { name: 'no password wanted, role exists: nothing to do', s: { exists: true, verifier: '' }, want: null },
  ];
  it.each(rows)('$name', ({ s, password, want }) => {
    const p = planPostgresRole({ name: 'synapse', ...(password ? { password } : {}) }, s);
    if (want === null) return expect(p).toBeNull();
    if (want.unresolved) return expect(p).toEqual({ unresolved: want.unresolved });
    expect(p).toMatchObject({ action: want.action });
    for (const h of want.has) expect(decoded((p as { script: string }).script)).toContain(h);
    // The password travels in the SQL on stdin, never in the summary shown to reviewers.
    expect((p as { summary: string }).summary).not.toContain('pw-123456');
  });
  it('quotes identifiers and literals', () => {
    const p = planPostgresRole({ name: 'we"ird', password: "it's-a-pass" }, { exists: false }) as { script: string };
    expect(decoded(p.script)).toContain(`CREATE ROLE "we""ird" LOGIN PASSWORD 'it''s-a-pass'`);
  });
});

describe('planPostgresDatabase', () => {
  const o = { name: 'synapse', owner: 'synapse' };
  const good: PostgresDatabaseState = { exists: true, encoding: 'UTF8', collate: 'C', ctype: 'C', owner: 'synapse' };
  it.each([
    ['missing: created UTF8/C from template0', { exists: false }, '+', `CREATE DATABASE "synapse" OWNER "synapse" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE "template0"`],
    ['wrong owner: altered', { ...good, owner: 'postgres' }, '~', 'ALTER DATABASE "synapse" OWNER TO "synapse"'],
  ] as const)('%s', (_n, s, action, sql) => {
    const p = planPostgresDatabase(o, s) as { action: string; script: string };
    expect(p.action).toBe(action);
    expect(decoded(p.script)).toContain(sql);
  });
  it('as wanted: nothing to do', () => expect(planPostgresDatabase(o, good)).toBeNull());
  it('wrong collation cannot be fixed in place: it says so instead of guessing', () => {
    expect(planPostgresDatabase(o, { ...good, collate: 'en_US.UTF-8' })).toEqual({
      unresolved: 'database synapse exists with UTF8/en_US.UTF-8/C, not UTF8/C/C; it must be recreated by hand',
    });
  });
});

describe('planPostgresSetting', () => {
  it.each([
    ['nothing configured, built-in default wanted', { configured: '' }, 'localhost', null],
    ['configured as wanted', { configured: '*' }, '*', null],
    ['nothing configured, other value wanted', { configured: '' }, '*', "ALTER SYSTEM SET listen_addresses = '*'"],
    ['configured differently', { configured: '*' }, 'localhost', "ALTER SYSTEM SET listen_addresses = 'localhost'"],
  ] as const)('%s', (_n, s, value, sql) => {
    const p = planPostgresSetting({ name: 'listen_addresses', value, builtin: 'localhost' }, s);
    if (sql === null) expect(p).toBeNull();
    else expect(decoded((p as { script: string }).script)).toContain(sql);
  });
});
