// Facts many resources need, read for all of them at once: one `find` over every path (its type,
// mode and owners, and a `sha256sum` over the regular files), one `getent` for users, one for groups
// (none for an owner some probed path already shows: a no-op starts neither), one `id` per user
// whose groups matter, one `dpkg-query`, one `debconf-communicate` for every question, one psql
// session per database for every query.
// A probe snippet per resource cost several processes each (stat, sha256sum, cut, getent...);
// on a host with 60 resources that was most of a no-op run. Nothing in the shell loops over every
// path either: with 3000 files, a shell `case` per file cost seconds (awk's hash does it at once).
import { randomBytes } from 'node:crypto';
import { dbArg, PG_NOT_INSTALLED } from './postgres.ts';
import { UserError } from '../errors.ts';
import { pipedFrom, q } from './sh.ts';

/**
 * The line psql prints before each query's rows. Rows are data (a setting, a name) and can hold any
 * line, so the marker carries a token drawn when mxplay starts, which no stored value can know.
 */
export const QUERY_MARK = `@@q-${randomBytes(8).toString('hex')}`;

/** What a resource wants to know. `sha`: the content it wants; a file whose content differs is sent back. */
export interface FactQuery {
  paths?: { path: string; sha?: string }[];
  /** Users whose account is read (Facts.account). */
  users?: string[];
  /**
   * Users that need only exist (Facts.user: a file's owner) and groups (Facts.group). NSS is asked
   * only about those that no probed path shows as its owner: one that owns a file exists.
   */
  owners?: string[];
  /** Users whose groups are wanted too (see Facts.account): one `id` each, so only when they matter. */
  memberships?: string[];
  groups?: string[];
  packages?: string[];
  debconf?: string[];
  /** Read-only queries run as the postgres superuser over the local socket. */
  sql?: { db: string; query: string }[];
}

export interface PathFact {
  kind: 'file' | 'dir' | 'link' | 'other';
  mode: string;
  owner: string;
  group: string;
  uid: string;
  gid: string;
  size: number;
  /** Regular files only. */
  sha?: string;
  /** Base64 content of a regular file whose sha is not the wanted one, up to CONTENT_LIMIT bytes (for diffs). */
  content?: string;
}

export interface Facts {
  path(p: string): PathFact | undefined;
  user(name: string): boolean;
  /** A user's home and shell; and its groups, the primary one first, when asked in `memberships`. */
  account(name: string): { home: string; shell: string; groups?: string[] } | undefined;
  group(name: string): boolean;
  /** dpkg's status abbreviation and version; undefined when dpkg does not know the package. */
  pkg(name: string): { status: string; version: string } | undefined;
  /** The answer in debconf's database; null when the question is not there. */
  debconf(question: string): string | null;
  /** The rows (fields split on |), or why PostgreSQL could not answer. */
  sql(db: string, query: string): { rows: string[][] } | { down: string };
}

const CONTENT_LIMIT = 262144;

/**
 * The content of each file that differs, for its diff: one perl for all of them (a shell loop
 * started three programs a file: 5 s on a host where 500 files differ). Hex, as perl-base (Essential
 * in Debian) has no base64; the parser turns it into the base64 the facts hold.
 */
const CONTENTS_PERL = `binmode STDOUT;
while (my $p = <STDIN>) {
  chomp $p;
  next if (-s $p // 0) > ${CONTENT_LIMIT};
  open(my $f, '<', $p) or next; binmode $f;
  my $d = do { local $/; <$f> }; close($f);
  print 'C|', $p, '|', unpack('H*', $d // ''), "\n";
}`;

/** In the list of paths asked about: no content wanted there. */
const NO_SHA = '-'.repeat(64);

/**
 * sha256sum's lines as H lines, or = lines for files that have the content wanted (the reply of a
 * no-op stays small); the files whose content is not the one wanted, to the file `differ`. And the
 * owners asked about (u|NAME, g|NAME) that no stat line shows, to the files `users` and `groups`: only
 * those are looked up. A stat line of more than 9 fields (a | in a name or the path) shows none.
 */
const HASHES_AWK = `FILENAME == ARGV[1] { want[substr($0, 66)] = substr($0, 1, 64); next }
FILENAME == ARGV[2] { if (substr($0, 1, 2) == "u|") needu[substr($0, 3)] = 1; else needg[substr($0, 3)] = 1; next }
FILENAME == ARGV[3] {
  print
  if (split($0, f, "|") == 9) { if (f[4] != f[6]) seenu[f[4]] = 1; if (f[5] != f[7]) seeng[f[5]] = 1 }
  next
}
END {
  for (n in needu) if (!(n in seenu)) print n > users
  for (n in needg) if (!(n in seeng)) print n > groups
}
{
  if (substr($0, 1, 1) == "\\\\") { h = substr($0, 2, 64); p = unescape(substr($0, 68)) } else { h = substr($0, 1, 64); p = substr($0, 67) }
  if (want[p] == h) print "=|" p
  else { print "H|" h "|" p; if ((p in want) && want[p] != "${NO_SHA}") print p > differ }
}
function unescape(s,  o, i, c) {
  o = ""
  while ((i = index(s, "\\\\")) > 0) { c = substr(s, i + 1, 1); o = o substr(s, 1, i - 1) (c == "n" ? "\\n" : c); s = substr(s, i + 2) }
  return o s
}`;

/**
 * A path the facts can say nothing true about: every reply is one line per path; and a relative
 * one (relative to what, on a host?), which `find` would also read as an option when it starts with -.
 */
export function checkProbedPath(path: string): void {
  if (path.includes('\n')) throw new UserError(`${JSON.stringify(path)}: a path with a line break cannot be managed (each fact about a path is one line)`);
  if (!path.startsWith('/')) throw new UserError(`${JSON.stringify(path)}: a path on a host must be absolute (start with /)`);
}

const uniq = (xs: string[]) => [...new Set(xs)];
const isId = (name: string) => /^\d+$/.test(name);

/**
 * All queries as one: each path, user, group, package, question and SQL query once. The script
 * and the parser both work from it, so the order of debconf answers and SQL markers agrees.
 * Numeric ids need no lookup (a container's uid may have no name on the host).
 */
function merge(queries: FactQuery[]) {
  const wanted = new Map<string, string | undefined>();
  for (const qy of queries) for (const p of qy.paths ?? []) if (!wanted.has(p.path) || p.sha) wanted.set(p.path, p.sha);
  const all = <K extends 'users' | 'owners' | 'memberships' | 'groups' | 'packages' | 'debconf'>(k: K) => uniq(queries.flatMap((x) => x[k] ?? []));
  const users = uniq([...all('users'), ...all('memberships')]).filter((n) => !isId(n));
  // Looked up only when no path shows them, which awk tells: when paths are probed, and for a name
  // that fits on one line of its list.
  const awkDecides = (n: string) => wanted.size > 0 && !n.includes('\n');
  const owners = all('owners').filter((n) => !isId(n) && !users.includes(n));
  const groups = all('groups').filter((n) => !isId(n));
  return {
    wanted,
    users: [...users, ...owners.filter((n) => !awkDecides(n))],
    ownersIfUnseen: owners.filter(awkDecides),
    memberships: all('memberships'),
    groups: groups.filter((n) => !awkDecides(n)),
    groupsIfUnseen: groups.filter(awkDecides),
    packages: all('packages'),
    questions: all('debconf'),
    sql: [...new Map(queries.flatMap((x) => x.sql ?? []).map((x) => [`${x.db}\0${x.query}`, x])).values()],
  };
}

/** Does factsScript need a private temporary folder (`$MXP_T`, made and removed by its caller)? */
export function factsNeedTemp(queries: FactQuery[]): boolean {
  return queries.some((x) => x.paths?.length);
}

/**
 * The shell that prints the facts for all queries, as sections `@@mxp facts <name>`. It works in
 * "$MXP_T", a private temporary folder the caller made when factsNeedTemp says so.
 */
export function factsScript(queries: FactQuery[]): string {
  const { wanted, users, ownersIfUnseen, memberships, groups, groupsIfUnseen, packages, questions, sql } = merge(queries);
  const out: string[] = [];
  if (wanted.size) {
    // Each path asked about and the content wanted there, one `SHA PATH` line each (dashes when no
    // content is wanted): awk reads it to pick the files to hash and those whose content differs.
    // Written by the shell's own printf, each line a quoted word: no program to start, no delimiter.
    const list = [...wanted].map(([p, sha]) => q(`${sha ?? NO_SHA} ${p}`)).join(' ');
    for (const p of wanted.keys()) if (!p.startsWith('/')) throw new Error(`facts: ${JSON.stringify(p)} is not an absolute path (checkProbedPath)`);
    out.push(
      'echo "@@mxp facts paths"',
      `printf '%s\\n' ${list} > "$MXP_T/want"`,
      // One find for what stat would say of each path (type letter, mode, owners, size) and a
      // sha256sum over the regular files among them: a FIFO or a device would block sha256sum, a
      // symbolic link is not followed. Its own lines to one file, sha256sum's to another.
      `find ${[...wanted.keys()].map(q).join(' ')} -maxdepth 0 -fprintf "$MXP_T/stat" ${q(`${STAT_TAG}%y|%m|%u|%g|%U|%G|%s|%p\\n`)} -type f -exec sha256sum -- {} + 2>/dev/null > "$MXP_T/hash"`,
      ': > "$MXP_T/differ"',
      ownersIfUnseen.length || groupsIfUnseen.length
        ? `printf '%s\\n' ${[...ownersIfUnseen.map((n) => q(`u|${n}`)), ...groupsIfUnseen.map((n) => q(`g|${n}`))].join(' ')} > "$MXP_T/owners"`
        : ': > "$MXP_T/owners"',
      // The stat lines, then a line per hash; sha256sum escapes a name holding a backslash (the
      // line then starts with one), which the awk undoes.
      `awk -v differ="$MXP_T/differ" -v users="$MXP_T/users" -v groups="$MXP_T/groups" ${q(HASHES_AWK)} "$MXP_T/want" "$MXP_T/owners" "$MXP_T/stat" "$MXP_T/hash"`,
      // Only when some file differs: a no-op starts no perl.
      `if [ -s "$MXP_T/differ" ]; then perl -e ${q(CONTENTS_PERL)} < "$MXP_T/differ"; fi`,
    );
  }
  // One getent for the names awk listed (one per line), when it listed any.
  const unseen = (db: string, list: string) => `if [ -s "$MXP_T/${list}" ]; then mxp_getent ${db} "$MXP_T/${list}"; fi`;
  if (ownersIfUnseen.length || groupsIfUnseen.length) {
    out.push('mxp_getent() { mxp_db=$1; mxp_list=$2; set --; while IFS= read -r mxp_n; do set -- "$@" "$mxp_n"; done < "$mxp_list"; getent "$mxp_db" "$@" 2>/dev/null; }');
  }
  if (users.length || ownersIfUnseen.length) out.push('echo "@@mxp facts users"');
  if (users.length) out.push(`getent passwd ${users.map(q).join(' ')} 2>/dev/null`);
  if (ownersIfUnseen.length) out.push(unseen('passwd', 'users'));
  if (memberships.length) {
    // One line per user, in order (a name can hold any character): its groups, the primary first.
    out.push('echo "@@mxp facts memberships"', `for u in ${memberships.map(q).join(' ')}; do printf 'G|'; id -Gn -- "$u" 2>/dev/null || echo; done`);
  }
  if (groups.length || groupsIfUnseen.length) out.push('echo "@@mxp facts groups"');
  if (groups.length) out.push(`getent group ${groups.map(q).join(' ')} 2>/dev/null`);
  if (groupsIfUnseen.length) out.push(unseen('group', 'groups'));
  if (questions.length) {
    // One perl start for all questions: one answer line per GET, in order.
    out.push('echo "@@mxp facts debconf"', `printf '${questions.map(() => 'GET %s\\n').join('')}' ${questions.map(q).join(' ')} | debconf-communicate 2>/dev/null`);
  }
  if (sql.length) {
    out.push('echo "@@mxp facts sql"', `if ! command -v psql >/dev/null 2>&1; then echo 'DOWN|PostgreSQL is not installed'; else`);
    // Each database by its index (its name can hold anything); psql's own lines all start with |.
    for (const [n, db] of uniq(sql.map((x) => x.db)).entries()) {
      // Each query after a marker line; the first error stops the session (its message follows).
      const body = sql.map((x, i) => [x, i] as const).filter(([x]) => x.db === db).map(([x, i]) => `\\echo ${QUERY_MARK} ${i}\n${x.query};`);
      // Every line prefixed with |: an empty value is a line too.
      out.push(`echo '@@db ${n}'`, pipedFrom(`${body.join('\n')}\n`, `runuser -u postgres -- psql -X -At -F '|' -v ON_ERROR_STOP=1 -d ${dbArg(db)} 2>&1 | sed 's/^/|/'`));
    }
    out.push('fi');
  }
  if (packages.length) {
    out.push('echo "@@mxp facts packages"', `dpkg-query -W -f='\${binary:Package}|\${db:Status-Abbrev}|\${Version}\\n' ${packages.map(q).join(' ')} 2>/dev/null`);
  }
  return out.join('\n');
}

/** The tag of a path's line: find's %y letter, mode, owner, group, uid, gid, size, path. */
const STAT_TAG = 'S|';

/** find's %y: f regular file, d directory, l symbolic link; p, s, c, b, D are the others. */
const KINDS: Record<string, PathFact['kind']> = { f: 'file', d: 'dir', l: 'link' };

/** find names an owner it cannot name by its number (stat said UNKNOWN): the number is in uid/gid. */
const named = (name: string, id: string) => (name === id ? 'UNKNOWN' : name);

/** Facts from the lines of the sections (name → lines), as factsScript printed them. */
export function parseFacts(sections: Map<string, string[]>, queries: FactQuery[]): Facts {
  const { wanted, questions, memberships, sql: queried } = merge(queries);
  const paths = new Map<string, PathFact>();
  // Owners the stat lines show exist (as the probe's awk reads them: only from a line of 9 fields).
  const ownerSeen = new Set<string>();
  const groupSeen = new Set<string>();
  for (const line of sections.get('paths') ?? []) {
    const tag = line.slice(0, 2);
    if (tag === 'S|') {
      const f = line.split('|');
      if (f.length < 9) continue;
      if (f.length === 9 && f[3] !== f[5]) ownerSeen.add(f[3]!);
      if (f.length === 9 && f[4] !== f[6]) groupSeen.add(f[4]!);
      const path = f.slice(8).join('|');
      paths.set(path, { kind: KINDS[f[1]!] ?? 'other', mode: f[2]!, owner: named(f[3]!, f[5]!), group: named(f[4]!, f[6]!), uid: f[5]!, gid: f[6]!, size: Number(f[7]) });
    } else if (tag === 'H|') {
      const fact = paths.get(line.slice(67));
      if (fact) fact.sha = line.slice(2, 66);
    } else if (tag === '=|') {
      const path = line.slice(2);
      const fact = paths.get(path);
      if (fact) fact.sha = wanted.get(path);
    } else if (tag === 'C|') {
      const at = line.lastIndexOf('|');
      const fact = paths.get(line.slice(2, at));
      if (fact) fact.content = Buffer.from(line.slice(at + 1), 'hex').toString('base64');
    }
  }
  // passwd lines: name:password:uid:gid:gecos:home:shell (no field can hold a colon)
  const passwd = new Map((sections.get('users') ?? []).map((l) => l.split(':')).map((f) => [f[0]!, { home: f[5] ?? '', shell: f[6] ?? '' }]));
  const groups = new Set((sections.get('groups') ?? []).map((l) => l.split(':')[0]));
  const pkgs = new Map<string, { status: string; version: string }>();
  for (const line of sections.get('packages') ?? []) {
    const [name = '', status = '', ...version] = line.split('|');
    const v = { status, version: version.join('|') };
    pkgs.set(name, v);
    // An arch-qualified name (libc6:amd64) is also found by its plain name, as dpkg-query -W does.
    const plain = name.split(':')[0]!;
    if (!pkgs.has(plain)) pkgs.set(plain, v);
  }
  // The i-th G line is the i-th account's (a name may hold any character, so none is parsed back).
  const groupsOf = new Map(
    (sections.get('memberships') ?? []).filter((l) => l.startsWith('G|')).map((l, i) => [memberships[i]!, l.slice(2).split(' ').filter(Boolean)] as const),
  );
  const answers = new Map<string, string | null>();
  (sections.get('debconf') ?? []).forEach((line, i) => {
    const m = /^(\d+)(?: (.*))?$/.exec(line);
    if (questions[i] !== undefined) answers.set(questions[i]!, m && m[1] === '0' ? (m[2] ?? '') : null);
  });
  const sql = sqlResults(queried, sections.get('sql') ?? []);
  return {
    path: (p) => paths.get(p),
    user: (n) => isId(n) || passwd.has(n) || ownerSeen.has(n),
    account: (n) => {
      const p = passwd.get(n);
      const groups = groupsOf.get(n);
      return p ? { ...p, ...(groups ? { groups } : {}) } : undefined;
    },
    group: (n) => isId(n) || groups.has(n) || groupSeen.has(n),
    pkg: (n) => pkgs.get(n),
    debconf: (question) => answers.get(question) ?? null,
    sql: (db, query) => sql.get(`${db}\0${query}`) ?? { down: 'PostgreSQL was not asked' },
  };
}

/** Rows per query from the sql section: markers `@@q N` start a query's rows; psql's messages
 * (prefixed "psql:") are errors; a query whose marker never came did not run (the first error
 * or a server that does not answer stopped the session). */
function sqlResults(sql: { db: string; query: string }[], lines: string[]) {
  const out = new Map<string, { rows: string[][] } | { down: string }>();
  const installed = !lines.some((l) => l.startsWith('DOWN|'));
  const seen = new Map<number, { rows: string[][]; error?: string }>();
  const dbError = new Map<string, string>();
  const dbs = uniq(sql.map((x) => x.db));
  let db = '';
  let current: { rows: string[][]; error?: string } | undefined;
  for (const raw of lines) {
    const line = raw.startsWith('|') ? raw.slice(1) : raw;
    const marker = line.startsWith(`${QUERY_MARK} `) ? /^\S+ (\d+)$/.exec(line) : null;
    // The database line is the script's own echo: psql's output always starts with |.
    if (raw.startsWith('@@db ')) {
      db = dbs[Number(line.slice(5))] ?? '';
      current = undefined;
    } else if (marker) {
      seen.set(Number(marker[1]), (current = { rows: [] }));
    } else if (/^(psql:|ERROR:|FATAL:)/.test(line)) {
      const text = line.replace(/^psql:(<stdin>:\d+: )?/, '').trim();
      if (current) current.error ??= text;
      // Before any query (no connection), or the error that stopped the queries after it.
      if (!dbError.has(db)) dbError.set(db, text);
    } else if (current) {
      current.rows.push(line.split('|'));
    }
  }
  sql.forEach((x, i) => {
    const r = seen.get(i);
    const down = !installed ? PG_NOT_INSTALLED
      : r?.error ? `PostgreSQL: ${r.error}`
      : !r ? `PostgreSQL does not answer: ${dbError.get(x.db) ?? 'no reply'}` : undefined;
    out.set(`${x.db}\0${x.query}`, down ? { down } : { rows: r!.rows });
  });
  return out;
}
