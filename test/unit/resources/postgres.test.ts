import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyScript, parseProbeOutput, STATE_DIR } from '../../../src/engine/scripts.ts';
import {
  passwordMatches, planPostgresDatabase, planPostgresHba, planPostgresRole, planPostgresSetting, postgresHba,
  pgHbaAddress, pgHbaEntryProblems, pgHbaLine, PG_HBA_VALIDATE, PG_NOT_INSTALLED,
  type PostgresDatabaseState, type PostgresHbaEntry, type PostgresRoleState,
} from '../../../src/resources/postgres.ts';
import { QUERY_MARK } from '../../../src/resources/facts.ts';
import type { Change } from '../../../src/resources/types.ts';
import postgresRoleDef from '../../../roles/postgres/role.ts';
import { decoded, sh, tempDir } from '../helpers.ts';

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

describe('missingServerHint: what to do when PostgreSQL is not installed, in the words of the role', () => {
  const hint = 'synapse_db_manage is true: run the postgres role on this host before synapse, or set synapse_db_manage: false when the database is on another host';
  const want = { unresolved: `PostgreSQL is not installed; ${hint}` };
  it.each([
    ['postgresRole', () => planPostgresRole({ name: 'synapse', password: 'pw-123456', missingServerHint: hint }, { down: PG_NOT_INSTALLED })],
    ['postgresDatabase', () => planPostgresDatabase({ name: 'synapse', owner: 'synapse', missingServerHint: hint }, { down: PG_NOT_INSTALLED })],
    ['postgresSetting', () => planPostgresSetting({ name: 'listen_addresses', value: '*', missingServerHint: hint }, { down: PG_NOT_INSTALLED })],
    ['postgresHba', () => planPostgresHba({ entries: [], missingServerHint: hint }, { down: PG_NOT_INSTALLED })],
  ])('%s appends it to the note', (_n, plan) => expect(plan()).toEqual(want));

  it('only when the server is not installed: a server that does not answer is another matter', () => {
    const down = 'PostgreSQL does not answer: connection refused';
    expect(planPostgresRole({ name: 'synapse', missingServerHint: hint }, { down })).toEqual({ unresolved: down });
    expect(planPostgresDatabase({ name: 'synapse', owner: 'synapse', missingServerHint: hint }, { down })).toEqual({ unresolved: down });
  });

  it('without it, the note is as before', () => {
    expect(planPostgresRole({ name: 'synapse' }, { down: PG_NOT_INSTALLED })).toEqual({ unresolved: 'PostgreSQL is not installed' });
  });

  it('the facts say exactly that when the host has no psql', () => {
    const r = postgresHba({ entries: [], missingServerHint: hint });
    const out = parseProbeOutput('@@mxp facts sql\nDOWN|PostgreSQL is not installed\n', [r]);
    expect(r.plan(out.states[0] as never)).toEqual(want);
  });
});

// ---- pg_hba.conf ---------------------------------------------------------------------------

// The lines of pg_hba.conf as Debian's pg_createcluster writes them (PostgreSQL 18 on sid; the
// comment block at the top shortened).
const DEBIAN = `# PostgreSQL Client Authentication Configuration File
# ===================================================
#
# Refer to the "Client Authentication" section in the PostgreSQL
# documentation for a complete description of this file.

# DO NOT DISABLE!
# If you change this first entry you will need to make sure that the
# database superuser can access the database using some other method.
# Noninteractive access to all databases is required during automatic
# maintenance (custom daily cronjobs, replication, and similar tasks).
#
# Database administrative login by Unix domain socket
local   all             postgres                                peer

# TYPE  DATABASE        USER            ADDRESS                 METHOD

# "local" is for Unix domain socket connections only
local   all             all                                     peer
# IPv4 local connections:
host    all             all             127.0.0.1/32            scram-sha-256
# IPv6 local connections:
host    all             all             ::1/128                 scram-sha-256
# Allow replication connections from localhost, by a user with the
# replication privilege.
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
`;
const PATH = '/etc/postgresql/18/main/pg_hba.conf';
const BEGIN = '# mxplay: begin of the entries of postgres_hba (written by mxplay from the inventory: change them there)';
const END = '# mxplay: end of the entries of postgres_hba';
const SYN = 'host    synapse         synapse         10.0.0.2/32             scram-sha-256';
const WORKER = 'hostssl synapse         synapse         10.0.1.0/24             md5';
const syn: PostgresHbaEntry = { database: 'synapse', user: 'synapse', address: '10.0.0.2' };
const worker: PostgresHbaEntry = { database: 'synapse', user: 'synapse', address: '10.0.1.0/24', method: 'md5', tls: true };
const block = (...lines: string[]) => [BEGIN, ...lines, END].map((l) => `${l}\n`).join('');
const state = (content: string) => ({ path: PATH, content: Buffer.from(content).toString('base64') });

describe('pg_hba.conf lines', () => {
  it.each<[string, PostgresHbaEntry, string]>([
    ['a bare IPv4 address is that host alone: /32, SCRAM by default', syn, SYN],
    ['a network over TLS with md5', worker, WORKER],
    ['a bare IPv6 address is /128', { database: 'synapse', user: 'synapse', address: '2001:db8::5' }, 'host    synapse         synapse         2001:db8::5/128         scram-sha-256'],
    ['all databases; a long name still leaves a space', { database: 'all', user: 'u'.repeat(20), address: '10.0.0.0/8' }, `host    all             ${'u'.repeat(20)} 10.0.0.0/8              scram-sha-256`],
  ])('%s', (_n, e, line) => expect(pgHbaLine(e)).toBe(line));

  it.each([
    ['10.0.0.2', '10.0.0.2/32'], ['10.0.0.0/24', '10.0.0.0/24'], ['::1', '::1/128'], ['2001:db8::/32', '2001:db8::/32'], ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.0.0.2/33', undefined], ['::1/129', undefined], ['10.0.0.2/024', undefined], ['fe80::1%eth0', undefined], ['db.example.com', undefined],
    ['10.0.0.2 ', undefined], ['10.0.0.2/32\nhost all all 0.0.0.0/0 trust', undefined], ['', undefined], ['samenet', undefined], ['all', undefined],
  ])('address %j → %j', (address, want) => expect(pgHbaAddress(address)).toBe(want));

  // Every value that could break its line, start another, or mean more than one name: refused,
  // with the reason, when the task is made (the role's schema refuses them earlier, naming the key).
  it.each<[string, Partial<PostgresHbaEntry>, RegExp]>([
    ['a line break in a name', { user: 'synapse\nhost all all 0.0.0.0/0 trust' }, /not a user name .*letters, digits and _ only, starting with a letter or _, at most 63 characters \(so that no value can break its line\)/],
    ['a space', { database: 'my db' }, /not a database name/],
    ['a comma (a list in pg_hba.conf)', { database: 'synapse,postgres' }, /not a database name/],
    ['a quote', { user: '"all"' }, /not a user name/],
    ['a comment', { user: 'synapse#' }, /not a user name/],
    ['a group (+)', { user: '+admins' }, /not a user name/],
    ['a file (@)', { database: '@dbs' }, /not a database name/],
    ['a regular expression (/)', { user: '/^.*$' }, /not a user name/],
    ['a leading digit', { database: '1db' }, /not a database name/],
    ['64 characters', { database: 'd'.repeat(64) }, /at most 63 characters/],
    ['empty', { user: '' }, /not a user name/],
    ['a keyword of the database column', { database: 'replication' }, /replication is a pg_hba.conf keyword, not a database name/],
    ['trust', { method: 'trust' }, /method "trust" is refused: trust lets anyone at that address in as that user without any password; use scram-sha-256 \(the default\) or md5/],
    ['password', { method: 'password' }, /method "password" is refused: password sends the password in clear text/],
    ['any other method', { method: 'ident' }, /method "ident" is refused; use scram-sha-256/],
    ['a host name for the address', { address: 'client.example.com' }, /"client.example.com" is not an IP address or a network in CIDR form/],
  ])('refuses %s', (_n, bad, want) => {
    const e = { ...syn, ...bad };
    expect(pgHbaEntryProblems(e).join('; ')).toMatch(want);
    expect(() => postgresHba({ entries: [e] })).toThrow(want);
  });

  it('63 characters, _ first, upper case and all are names it writes', () => {
    for (const name of ['d'.repeat(63), '_x', 'Synapse_2', 'all']) expect(pgHbaEntryProblems({ ...syn, database: name, user: name })).toEqual([]);
  });
});

describe('planPostgresHba', () => {
  const rows: { name: string; file: string; entries: PostgresHbaEntry[]; want: null | { action: string; summary: string; after: string } }[] = [
    { name: 'add: the block after the distribution\'s lines', file: DEBIAN, entries: [syn], want: { action: '+', summary: 'add 1 entry', after: DEBIAN + block(SYN) } },
    { name: 'unchanged: the second run has nothing to do', file: DEBIAN + block(SYN), entries: [syn], want: null },
    { name: 'nothing wanted, nothing there: nothing to do', file: DEBIAN, entries: [], want: null },
    { name: 'another entry: added to the block, in the inventory\'s order', file: DEBIAN + block(SYN), entries: [syn, worker], want: { action: '~', summary: 'add 1 entry', after: DEBIAN + block(SYN, WORKER) } },
    { name: 'an entry removed from the inventory is removed from the file', file: DEBIAN + block(SYN, WORKER), entries: [worker], want: { action: '~', summary: 'remove 1 entry', after: DEBIAN + block(WORKER) } },
    { name: 'no entries left: the block goes, the distribution\'s lines stay exactly', file: DEBIAN + block(SYN, WORKER), entries: [], want: { action: '-', summary: 'remove 2 entries', after: DEBIAN } },
    { name: 'an entry changed: one removed, one added', file: DEBIAN + block(SYN), entries: [{ ...syn, method: 'md5' }], want: { action: '~', summary: 'add 1 entry, remove 1 entry', after: DEBIAN + block(SYN.replace('scram-sha-256', 'md5')) } },
    { name: 'the same entry twice is written once', file: DEBIAN, entries: [syn, { ...syn }], want: { action: '+', summary: 'add 1 entry', after: DEBIAN + block(SYN) } },
    {
      name: 'lines an administrator added after the block stay after it',
      file: `${DEBIAN}${block(SYN)}host    all             app             10.9.9.9/32             scram-sha-256\n`, entries: [],
      want: { action: '-', summary: 'remove 1 entry', after: `${DEBIAN}host    all             app             10.9.9.9/32             scram-sha-256\n` },
    },
    {
      name: 'a block moved up by hand stays where it is',
      file: `${block(SYN)}${DEBIAN}`, entries: [syn, worker],
      want: { action: '~', summary: 'add 1 entry', after: `${block(SYN, WORKER)}${DEBIAN}` },
    },
    {
      name: 'lines edited inside the block are written again',
      file: DEBIAN + block(SYN.replace('10.0.0.2/32', '10.0.0.0/8')), entries: [syn],
      want: { action: '~', summary: 'add 1 entry, remove 1 entry', after: DEBIAN + block(SYN) },
    },
    {
      name: 'an edited marker line is written again; the entries are as wanted',
      file: DEBIAN + block(SYN).replace(BEGIN, '# mxplay: begin (edited)'), entries: [syn],
      want: { action: '~', summary: "rewrite mxplay's lines", after: DEBIAN + block(SYN) },
    },
    { name: 'a file without its last line break: the block starts on a line of its own', file: DEBIAN.slice(0, -1), entries: [syn], want: { action: '+', summary: 'add 1 entry', after: DEBIAN + block(SYN) } },
    { name: 'a file without its last line break and nothing wanted: left alone', file: DEBIAN.slice(0, -1), entries: [], want: null },
    { name: 'an empty file', file: '', entries: [syn], want: { action: '+', summary: 'add 1 entry', after: block(SYN) } },
  ];
  it.each(rows)('$name', ({ file, entries, want }) => {
    const p = planPostgresHba({ entries }, state(file));
    if (want === null) return expect(p).toBeNull();
    const c = p as Change;
    expect({ action: c.action, summary: c.summary }).toEqual({ action: want.action, summary: want.summary });
    expect(c.diff).toEqual({ path: PATH, before: file, after: want.after });
    expect(decoded(c.script)).toContain(`mxp_put "$p" "$1" "$2" "$3" <<DATA\n${want.after}DATA`);
    // Idempotent: the file as written plans no change.
    expect(planPostgresHba({ entries }, state(want.after))).toBeNull();
  });

  it.each([
    ['a block that never ends', DEBIAN + `${BEGIN}\n${SYN}\n`, `${PATH}: the block of mxplay's entries begun on line 29 never ends (no "# mxplay: end" line); mend or remove mxplay's lines by hand`],
    ['an end that nothing began', DEBIAN + `${END}\n`, `${PATH}: line 29 ends a block of mxplay's entries that no line began; mend or remove mxplay's lines by hand`],
    ['a block begun twice', DEBIAN + `${BEGIN}\n${BEGIN}\n${END}\n`, `${PATH}: line 30 begins mxplay's entries again, inside the block begun on line 29; mend or remove mxplay's lines by hand`],
  ])('a damaged block is not guessed at: %s', (_n, file, unresolved) => {
    expect(planPostgresHba({ entries: [syn] }, state(file))).toEqual({ unresolved });
  });

  it('a file that is not UTF-8 is not rewritten', () => {
    const content = Buffer.concat([Buffer.from(DEBIAN), Buffer.from([0xff, 0x0a])]).toString('base64');
    expect(planPostgresHba({ entries: [syn] }, { path: PATH, content })).toEqual({ unresolved: `${PATH} is not UTF-8 text: mxplay does not rewrite it` });
  });

  it('a missing file, or a server that is not there yet, is known later', () => {
    expect(planPostgresHba({ entries: [syn] }, { path: PATH, content: null })).toEqual({ unresolved: `${PATH} (the server's hba_file) does not exist` });
    expect(planPostgresHba({ entries: [syn] }, { down: PG_NOT_INSTALLED })).toEqual({ unresolved: PG_NOT_INSTALLED });
  });

  it("reads the server's hba_file and its content from one query's row (both base64: rows split on | and lines)", () => {
    const r = postgresHba({ entries: [syn] });
    const row = `${Buffer.from(PATH).toString('base64')}|${Buffer.from(DEBIAN).toString('base64')}`;
    const out = parseProbeOutput(['@@mxp facts sql', '@@db 0', `|${QUERY_MARK} 0`, `|${row}`, ''].join('\n'), [r]);
    expect(out.states[0]).toEqual(state(DEBIAN));
    const missing = parseProbeOutput(['@@mxp facts sql', '@@db 0', `|${QUERY_MARK} 0`, `|${Buffer.from(PATH).toString('base64')}|-`, ''].join('\n'), [r]);
    expect(missing.states[0]).toEqual({ path: PATH, content: null });
  });

  it('is checked by the server after writing, unless told otherwise', () => {
    expect(postgresHba({ entries: [syn] }).validate).toBe(PG_HBA_VALIDATE);
    expect(postgresHba({ entries: [syn], validate: 'true' }).validate).toBe('true');
    expect(postgresHba({ entries: [syn], notify: 'reload postgresql' }).notify).toEqual(['reload postgresql']);
  });
});

describe("pg_hba.conf written by the apply script, then checked by the server's pg_hba_file_rules", () => {
  /** The file, its change and validation as the engine runs them, with a fake runuser for psql. */
  function apply(rulesErrors: string) {
    const dir = tempDir();
    const path = join(dir, 'pg_hba.conf');
    writeFileSync(path, DEBIAN);
    chmodSync(path, 0o640);
    const bin = join(dir, 'bin');
    writeFileSync(join(dir, 'rules'), rulesErrors);
    sh(`mkdir ${bin} && printf '#!/bin/sh\ncat ${join(dir, 'rules')}\n' > ${bin}/runuser && chmod +x ${bin}/runuser`);
    const change = planPostgresHba({ entries: [syn] }, { path, content: Buffer.from(DEBIAN).toString('base64') }) as Change;
    const script = applyScript([
      { kind: 'change', id: 0, script: change.script, notify: ['reload postgresql'], group: 0 },
      { kind: 'validate', group: 0, command: PG_HBA_VALIDATE, notify: ['reload postgresql'] },
    ]).replaceAll(STATE_DIR, join(dir, 'state'));
    const pendingFile = join(dir, 'state', 'pending-handlers');
    return { path, r: sh(script, { fakeBin: bin }), pending: () => (existsSync(pendingFile) ? readFileSync(pendingFile, 'utf8') : '') };
  }

  it('a file the server reads without error stays, with its mode, and the reload is owed', () => {
    const { path, r, pending } = apply('');
    expect(r.stdout).toContain('@@mxp valid 0');
    expect(readFileSync(path, 'utf8')).toBe(DEBIAN + block(SYN));
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(pending()).toBe('reload postgresql\n');
  });

  it('a file with a line the server cannot use is restored, and nothing is reloaded', () => {
    const { path, r, pending } = apply('line 30: invalid IP mask "10.0.0.2/99"\n');
    expect(r.stdout).toContain('@@mxp fail validate:0 1');
    expect(r.stdout).toContain('@@out pg_hba.conf has lines PostgreSQL cannot use:');
    expect(r.stdout).toContain('@@out line 30: invalid IP mask');
    expect(r.stdout).toContain('@@mxp rolledback');
    expect(readFileSync(path, 'utf8')).toBe(DEBIAN);
    expect(pending()).toBe('');
  });
});

describe('the postgres role: postgres_hba in the inventory', () => {
  const parse = (postgres_hba: unknown) => postgresRoleDef.vars.safeParse({ postgres_hba });
  const issues = (postgres_hba: unknown) => (parse(postgres_hba).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('defaults: scram-sha-256, no TLS', () => {
    expect(parse([{ database: 'synapse', user: 'synapse', address: '10.0.0.2' }]).data?.postgres_hba).toEqual([
      { database: 'synapse', user: 'synapse', address: '10.0.0.2', method: 'scram-sha-256', tls: false },
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['trust', { method: 'trust' }, 'postgres_hba.0.method: method "trust" is refused: trust lets anyone at that address in as that user without any password'],
    ['password', { method: 'password' }, 'postgres_hba.0.method: method "password" is refused: password sends the password in clear text'],
    ['a name that would break the line', { user: 'synapse all 0.0.0.0/0 trust' }, 'postgres_hba.0.user: "synapse all 0.0.0.0/0 trust" is not a user name mxplay writes into pg_hba.conf'],
    ['a host name', { address: 'client.example.com' }, 'postgres_hba.0.address: an IP address (10.0.0.5, 2001:db8::5: that host alone) or a network in CIDR form (10.0.0.0/24)'],
    ['an unknown key', { mehtod: 'md5' }, 'postgres_hba.0: Unrecognized key: "mehtod"'],
  ])('refuses %s, saying why', (_n, bad, want) => {
    expect(issues([{ database: 'synapse', user: 'synapse', address: '10.0.0.2', ...bad }]).join('\n')).toContain(want);
  });

  it('the role always has the pg_hba.conf resource, notifying the reload it defines', () => {
    const v = postgresRoleDef.vars.parse({});
    const tasks = postgresRoleDef.tasks(v, {} as never).flat(3) as { type: string; notify: string[] }[];
    expect(tasks.find((t) => t?.type === 'postgres hba')?.notify).toEqual(['reload postgresql']);
    expect(Object.keys(postgresRoleDef.handlers as object)).toEqual(['restart postgresql', 'reload postgresql']);
  });
});
