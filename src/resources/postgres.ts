import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { pipedFrom, q } from './sh.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

/**
 * psql's database argument for any name. A bare name holding `=` (or starting `postgres://`) would
 * be read as a whole connection string, so the name always goes as `dbname='…'`, quoted as libpq
 * quotes connection values (`\` and `'` escaped).
 */
export const dbArg = (db: string) => q(`dbname='${db.replace(/[\\']/g, (c) => `\\${c}`)}'`);

/** SQL run as the postgres superuser over the local socket, read from stdin (no secret in argv). */
function psql(sql: string, db = 'postgres'): string {
  return pipedFrom(`${sql}\n`, `runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d ${dbArg(db)}`);
}

export const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
export const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** A probe from one read-only query, batched with every other query of the host (see facts.ts). */
function sqlProbe<S>(query: string, read: (rows: string[][]) => S): FactProbe<S | { down: string }> {
  return {
    facts: { sql: [{ db: 'postgres', query }] },
    read(f) {
      const r = f.sql('postgres', query);
      // psql missing or the server down mean "known after the install/start".
      return 'down' in r ? { down: r.down } : read(r.rows);
    },
  };
}

// ---- roles ---------------------------------------------------------------------------------

export interface PostgresRoleOptions extends ResourceCommon {
  name: string;
  password?: string;
  state?: 'present' | 'absent';
}

export interface PostgresRoleState {
  down?: string;
  exists?: boolean;
  verifier?: string;
}

/** Does the stored verifier (SCRAM-SHA-256 or md5) belong to this password? */
export function passwordMatches(verifier: string | undefined, user: string, password: string): boolean {
  if (!verifier) return false;
  const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (scram) {
    const [, iter, salt, storedKey] = scram;
    const salted = pbkdf2Sync(password.normalize('NFKC'), Buffer.from(salt!, 'base64'), Number(iter), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    return createHash('sha256').update(clientKey).digest('base64') === storedKey;
  }
  if (verifier.startsWith('md5')) return verifier === 'md5' + createHash('md5').update(password + user).digest('hex');
  return false;
}

export function planPostgresRole(o: PostgresRoleOptions, s: PostgresRoleState): PlanResult {
  if (s.down) return { unresolved: s.down };
  if (o.state === 'absent') {
    return s.exists ? { action: '-', summary: 'drop role', script: psql(`DROP ROLE ${ident(o.name)};`) } : null;
  }
  const pw = o.password !== undefined ? ` PASSWORD ${literal(o.password)}` : '';
  if (!s.exists) return { action: '+', summary: `create login role${o.password ? ' with password' : ''}`, script: psql(`CREATE ROLE ${ident(o.name)} LOGIN${pw};`) };
  if (o.password !== undefined && !passwordMatches(s.verifier, o.name, o.password)) {
    return { action: '~', summary: 'set password', script: psql(`ALTER ROLE ${ident(o.name)} LOGIN${pw};`) };
  }
  return null;
}

export function postgresRole(o: PostgresRoleOptions): Resource<PostgresRoleState> {
  const probe = sqlProbe(`SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = ${literal(o.name)}`, (rows) =>
    rows.length ? { exists: true, verifier: rows[0]![0] ?? '' } : { exists: false });
  return { type: 'postgres role', id: o.name, probe, plan: (s) => planPostgresRole(o, s), ...common(o) };
}

// ---- databases -----------------------------------------------------------------------------

export interface PostgresDatabaseOptions extends ResourceCommon {
  name: string;
  owner: string;
  encoding?: string;
  lc_collate?: string;
  lc_ctype?: string;
  template?: string;
}

export interface PostgresDatabaseState {
  down?: string;
  exists?: boolean;
  encoding?: string;
  collate?: string;
  ctype?: string;
  owner?: string;
}

export function planPostgresDatabase(o: PostgresDatabaseOptions, s: PostgresDatabaseState): PlanResult {
  if (s.down) return { unresolved: s.down };
  const enc = o.encoding ?? 'UTF8';
  const collate = o.lc_collate ?? 'C';
  const ctype = o.lc_ctype ?? 'C';
  if (!s.exists) {
    return {
      action: '+',
      summary: `create (${enc}, collate ${collate}, ctype ${ctype}, owner ${o.owner})`,
      script: psql(
        `CREATE DATABASE ${ident(o.name)} OWNER ${ident(o.owner)} ENCODING ${literal(enc)} LC_COLLATE ${literal(collate)} LC_CTYPE ${literal(ctype)} TEMPLATE ${ident(o.template ?? 'template0')};`,
      ),
    };
  }
  if (s.encoding !== enc || s.collate !== collate || s.ctype !== ctype) {
    // Encoding and collation are fixed at creation: a wrong one needs a dump/restore by a human.
    return { unresolved: `database ${o.name} exists with ${s.encoding}/${s.collate}/${s.ctype}, not ${enc}/${collate}/${ctype}; it must be recreated by hand` };
  }
  if (s.owner !== o.owner) {
    return { action: '~', summary: `owner ${s.owner} → ${o.owner}`, script: psql(`ALTER DATABASE ${ident(o.name)} OWNER TO ${ident(o.owner)};`) };
  }
  return null;
}

export function postgresDatabase(o: PostgresDatabaseOptions): Resource<PostgresDatabaseState> {
  const sql = `SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${literal(o.name)}`;
  const probe = sqlProbe(sql, (rows) => {
    const [encoding, collate, ctype, owner] = rows[0] ?? [];
    return rows.length ? { exists: true, encoding, collate, ctype, owner } : { exists: false };
  });
  return { type: 'postgres db', id: o.name, probe, plan: (s) => planPostgresDatabase(o, s), ...common(o) };
}

// ---- server settings -----------------------------------------------------------------------

export interface PostgresSettingOptions extends ResourceCommon {
  name: string;
  value: string;
  /** The server's built-in value: wanting it where no file sets anything is no change. */
  builtin?: string;
}

export interface PostgresSettingState {
  down?: string;
  /** The value the configuration files set ('' when none does: the built-in default). */
  configured?: string;
}

export function planPostgresSetting(o: PostgresSettingOptions, s: PostgresSettingState): PlanResult {
  if (s.down) return { unresolved: s.down };
  if (s.configured === o.value || (!s.configured && o.builtin === o.value)) return null;
  return {
    action: '~',
    summary: `${o.name}: ${s.configured || '(default)'} → ${o.value}`,
    // ALTER SYSTEM writes postgresql.auto.conf: no path with the major version in it.
    script: psql(`ALTER SYSTEM SET ${o.name} = ${literal(o.value)};`),
  };
}

/** A server setting in postgresql.auto.conf; notify a restart or reload as the setting needs. */
export function postgresSetting(o: PostgresSettingOptions): Resource<PostgresSettingState> {
  const sql = `SELECT setting FROM pg_file_settings WHERE name = ${literal(o.name)} AND error IS NULL ORDER BY seqno DESC LIMIT 1`;
  const probe = sqlProbe(sql, (rows) => ({ configured: rows[0]?.[0] ?? '' }));
  return { type: 'postgres setting', id: o.name, probe, plan: (s) => planPostgresSetting(o, s), ...common(o) };
}
