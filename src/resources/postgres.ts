import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { isIP } from 'node:net';
import { base64Heredoc, pipedFrom, q } from './sh.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

/** Why the facts' SQL queries got no answer when the host has no psql at all (facts.ts says it). */
export const PG_NOT_INSTALLED = 'PostgreSQL is not installed';

/** What every resource reached through the local postgres superuser can be told. */
export interface PostgresCommon {
  /**
   * Appended to the "PostgreSQL is not installed" note of the plan (and to the apply's error when
   * nothing before the resource installed it): what the inventory should say instead, in the
   * words of the role that uses the resource (e.g. which variable made it want a local server).
   */
  missingServerHint?: string;
}

/** The plan's note for a server that could not answer, with the caller's hint when it is not installed at all. */
export function downReason(down: string, hint?: string): string {
  return hint && down === PG_NOT_INSTALLED ? `${down}; ${hint}` : down;
}

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

export interface PostgresRoleOptions extends ResourceCommon, PostgresCommon {
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
  if (s.down) return { unresolved: downReason(s.down, o.missingServerHint) };
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

export interface PostgresDatabaseOptions extends ResourceCommon, PostgresCommon {
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
  if (s.down) return { unresolved: downReason(s.down, o.missingServerHint) };
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

export interface PostgresSettingOptions extends ResourceCommon, PostgresCommon {
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
  if (s.down) return { unresolved: downReason(s.down, o.missingServerHint) };
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

// ---- pg_hba.conf entries -------------------------------------------------------------------

/**
 * One line of pg_hba.conf: who may connect over TCP (`host`, or `hostssl` with `tls`) from which
 * address to which database as which user, authenticated by password (SCRAM or md5).
 */
export interface PostgresHbaEntry {
  database: string;
  user: string;
  /** An IP address (this host alone: /32 or /128) or a network in CIDR form. */
  address: string;
  method?: string;
  tls?: boolean;
}

export const PG_HBA_METHODS = ['scram-sha-256', 'md5'] as const;

/**
 * Names as pg_hba.conf reads them without quotes: letters, digits and `_`, not starting with a
 * digit, at most 63 characters (PostgreSQL's NAMEDATALEN - 1). Such a value holds no space, quote,
 * comma, `#`, `+`, `@` or `/` (pg_hba.conf's separators, comment, group, file and regex syntax),
 * so it can never break its line or start another one.
 */
const PG_HBA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Words the database column reads as keywords, not as names (`all` is allowed: it means what it says). */
const PG_HBA_DB_KEYWORDS = new Set(['sameuser', 'samerole', 'samegroup', 'replication']);

/** Why this database or user name cannot go into pg_hba.conf, or undefined when it can. */
export function pgHbaNameProblem(kind: 'database' | 'user', name: string): string | undefined {
  if (!PG_HBA_NAME.test(name)) {
    return `${JSON.stringify(name)} is not a ${kind} name mxplay writes into pg_hba.conf: letters, digits and _ only, starting with a letter or _, at most 63 characters (so that no value can break its line)`;
  }
  if (kind === 'database' && PG_HBA_DB_KEYWORDS.has(name)) {
    return `${name} is a pg_hba.conf keyword, not a database name: give the database by its name (or all for every database)`;
  }
  return undefined;
}

/** Why this authentication method is refused, or undefined for scram-sha-256 and md5. */
export function pgHbaMethodProblem(method: string): string | undefined {
  if ((PG_HBA_METHODS as readonly string[]).includes(method)) return undefined;
  const why: Record<string, string> = {
    trust: 'trust lets anyone at that address in as that user without any password',
    password: 'password sends the password in clear text over the network',
    reject: 'an entry that rejects is not one mxplay manages',
  };
  return `method ${JSON.stringify(method)} is refused${why[method] ? `: ${why[method]}` : ''}; use scram-sha-256 (the default) or md5 (for clients too old for SCRAM)`;
}

/**
 * The address as pg_hba.conf gets it: always in CIDR form (a bare address is that host alone,
 * /32 or /128). Undefined when it is not an IP address or network: only hex digits, `.`, `:`
 * and one `/` then, nothing that could break the line.
 */
export function pgHbaAddress(address: string): string | undefined {
  const m = /^([0-9A-Fa-f:.]+)(?:\/(0|[1-9][0-9]{0,2}))?$/.exec(address);
  const family = m ? isIP(m[1]!) : 0;
  if (!m || !family) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  return prefix <= max ? `${m[1]}/${prefix}` : undefined;
}

/** Every reason this entry cannot be written (empty when it can). */
export function pgHbaEntryProblems(e: PostgresHbaEntry): string[] {
  return [
    pgHbaNameProblem('database', e.database),
    pgHbaNameProblem('user', e.user),
    pgHbaAddress(e.address) === undefined ? `${JSON.stringify(e.address)} is not an IP address or a network in CIDR form` : undefined,
    pgHbaMethodProblem(e.method ?? 'scram-sha-256'),
  ].filter((p): p is string => p !== undefined);
}

/** Columns as wide as Debian's own lines, so the file reads as one table. */
const col = (s: string, width: number) => (s.length >= width ? `${s} ` : s.padEnd(width));

/** The entry's line (its values checked: see pgHbaEntryProblems). */
export function pgHbaLine(e: PostgresHbaEntry): string {
  const problems = pgHbaEntryProblems(e);
  if (problems.length) throw new Error(`pg_hba.conf entry: ${problems.join('; ')}`);
  return `${col(e.tls ? 'hostssl' : 'host', 8)}${col(e.database, 16)}${col(e.user, 16)}${col(pgHbaAddress(e.address)!, 24)}${e.method ?? 'scram-sha-256'}`;
}

/**
 * mxplay's entries are one block between these two comment lines; everything else in the file is
 * the distribution's or the administrator's and is left as it is. No value mxplay writes can make
 * a line that starts with them: each entry line starts with `host` or `hostssl`, and its values
 * (names by PG_HBA_NAME, addresses by pgHbaAddress) hold no line break and no `#`. Only the
 * prefixes are matched, so an edited rest of a marker line is still found (and written again).
 */
export const PG_HBA_BEGIN = '# mxplay: begin';
export const PG_HBA_END = '# mxplay: end';
const BEGIN_LINE = `${PG_HBA_BEGIN} of the entries of postgres_hba (written by mxplay from the inventory: change them there)`;
const END_LINE = `${PG_HBA_END} of the entries of postgres_hba`;

/**
 * The validation of a written pg_hba.conf, run before the server is reloaded (a failure restores
 * the previous file): the pg_hba_file_rules view parses the file on disk as a reload would and
 * reports each line it cannot use. PostgreSQL has no command that checks the file by itself.
 */
export const PG_HBA_VALIDATE =
  `e=$(runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -d postgres -c "SELECT 'line ' || line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL") || exit 1; ` +
  `if [ -n "$e" ]; then printf '%s\\n' 'pg_hba.conf has lines PostgreSQL cannot use:' "$e"; exit 1; fi`;

export interface PostgresHbaOptions extends ResourceCommon, PostgresCommon {
  /** The entries, in order (pg_hba.conf is first-match). None: mxplay's block is removed. */
  entries: PostgresHbaEntry[];
}

export interface PostgresHbaState {
  down?: string;
  /** The server's hba_file. */
  path?: string;
  /** The file's content, base64; null when the file does not exist. */
  content?: string | null;
}

/** The file without mxplay's block: its other lines, where the block was, and the block's entries. */
export function splitPgHba(text: string): { kept: string[]; at?: number; entries: string[]; end: boolean } | { problem: string } {
  const end = text.endsWith('\n');
  const lines = text === '' ? [] : (end ? text.slice(0, -1) : text).split('\n');
  const kept: string[] = [];
  const entries: string[] = [];
  let at: number | undefined;
  let open: number | undefined;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith(PG_HBA_BEGIN)) {
      if (open !== undefined) return { problem: `line ${i + 1} begins mxplay's entries again, inside the block begun on line ${open + 1}` };
      open = i;
      at ??= kept.length;
    } else if (line.startsWith(PG_HBA_END)) {
      if (open === undefined) return { problem: `line ${i + 1} ends a block of mxplay's entries that no line began` };
      open = undefined;
    } else if (open !== undefined) {
      if (line.trim() && !line.trimStart().startsWith('#')) entries.push(line);
    } else kept.push(line);
  }
  if (open !== undefined) return { problem: `the block of mxplay's entries begun on line ${open + 1} never ends (no "${PG_HBA_END}" line)` };
  return { kept, ...(at !== undefined ? { at } : {}), entries, end };
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? 'y' : 'ies'}`;

export function planPostgresHba(o: PostgresHbaOptions, s: PostgresHbaState): PlanResult {
  if (s.down) return { unresolved: downReason(s.down, o.missingServerHint) };
  const path = s.path ?? '';
  if (!path.startsWith('/')) return { unresolved: `the server names no hba_file (${JSON.stringify(path)})` };
  if (s.content == null) return { unresolved: `${path} (the server's hba_file) does not exist` };
  const raw = Buffer.from(s.content, 'base64');
  const before = raw.toString('utf8');
  // Written back as text: a file that is not UTF-8 would not come back as it was.
  if (!Buffer.from(before, 'utf8').equals(raw)) return { unresolved: `${path} is not UTF-8 text: mxplay does not rewrite it` };
  const split = splitPgHba(before);
  if ('problem' in split) return { unresolved: `${path}: ${split.problem}; mend or remove mxplay's lines by hand` };

  const wanted = [...new Set(o.entries.map(pgHbaLine))];
  const block = wanted.length ? [BEGIN_LINE, ...wanted, END_LINE] : [];
  // Where the block already is (an administrator may have moved it above a line of theirs that
  // would match first), else at the end. The end is right for Debian's file: pg_hba.conf is
  // first-match, and Debian's own lines are `local` ones and `host` ones for 127.0.0.1/32 and
  // ::1/128 only, so no line before the block matches a remote client's address.
  const lines = [...split.kept];
  lines.splice(split.at ?? lines.length, 0, ...block);
  // The file's last line break as it was, unless the block now ends the file.
  const newline = split.end || (split.at === undefined && block.length > 0);
  const after = lines.length ? `${lines.join('\n')}${newline ? '\n' : ''}` : '';
  if (after === before) return null;

  const added = wanted.filter((l) => !split.entries.includes(l)).length;
  const removed = split.entries.filter((l) => !wanted.includes(l)).length;
  const what = [added ? `add ${count(added, 'entr')}` : '', removed ? `remove ${count(removed, 'entr')}` : ''].filter(Boolean).join(', ');
  return {
    action: !wanted.length ? '-' : split.at === undefined ? '+' : '~',
    summary: what || "rewrite mxplay's lines",
    // Written in place of the file the link (if any) points to, with its mode and owner.
    script: [
      `p=$(readlink -e -- ${q(path)})`,
      'm=$(stat -c \'%a %u %g\' -- "$p")',
      'set -- $m',
      `mxp_put "$p" "$1" "$2" "$3" ${base64Heredoc(after)}`,
    ].join('\n'),
    diff: { path, before, after },
  };
}

/**
 * mxplay's entries in the server's pg_hba.conf, wherever the major version keeps it (the server
 * says: `hba_file`), between the distribution's lines, which stay as they are. The written file is
 * checked by the server (PG_HBA_VALIDATE) and restored if it has an error; notify a reload.
 */
export function postgresHba(o: PostgresHbaOptions): Resource<PostgresHbaState> {
  for (const e of o.entries) pgHbaLine(e); // refuses a bad entry when the task is made, not on the host
  // Base64 (one line) for the content and the path: rows are split on | and on line breaks.
  // pg_read_binary_file(path, missing_ok) is PostgreSQL 15's (bookworm's) and later.
  const b64 = (x: string) => `translate(encode(${x}, 'base64'), E'\\n', '')`;
  const sql = `SELECT ${b64("convert_to(current_setting('hba_file'), 'UTF8')")}, coalesce(${b64("pg_read_binary_file(current_setting('hba_file'), true)")}, '-')`;
  const probe = sqlProbe(sql, (rows) => {
    const [path = '', content = '-'] = rows[0] ?? [];
    return { path: Buffer.from(path, 'base64').toString('utf8'), content: content === '-' ? null : content };
  });
  return {
    type: 'postgres hba',
    id: 'pg_hba.conf',
    probe,
    plan: (s) => planPostgresHba(o, s),
    ...common({ ...o, validate: o.validate ?? PG_HBA_VALIDATE }),
  };
}
