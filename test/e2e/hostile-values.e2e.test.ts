// Hostile values on one fresh lab host with the whole stack (postgres, synapse, synapse_email,
// synapse_ldap, synapse_server_notices, synapse_consent, coturn, nginx) and a slapd host: every
// secret and every free-text variable holds quotes, backslashes, shell syntax that would create a
// file if anything ran it ($(...), `...`, ;), SQL that would too, YAML/Jinja/printf syntax, unicode,
// line breaks where the role takes them, and the project's own markers (MXP_EOF, @@mxp ok 0, ...).
// The host converges; each service works with exactly those values, checked from outside (the
// admin logs in with the hostile password through nginx, Synapse reaches PostgreSQL with the
// hostile DB password, an HMAC registration with the hostile shared secret, the consent HMAC with
// the hostile form secret, an LDAP login through the hostile bind password, base and filter, a
// mail delivered after an SMTP login with the hostile password, a TURN relay with credentials
// derived from the hostile shared secret); no file the values tried to create exists anywhere;
// a second run changes nothing; and no output or file of run, --check, plan and show (every
// format) holds any secret or any 6-character piece of one. Values a role cannot carry are
// refused before any host is touched, naming the key.
import { randomBytes, createHmac } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { jinjaLiteral } from '../../src/vars/literal.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { httpsByName } from './helpers/https.ts';
import { api, eventually } from './helpers/matrix.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp-sink.ts';

const CONTROL_IP = '10.231.0.1';
const HOST = 'hv1';
const LDAP_HOST = 'hvldap';
const SERVER = 'hv1.lab.test';
const MATRIX = `matrix.${SERVER}`;
const CONF = '/etc/matrix-synapse/conf.d';

// ---- the values -----------------------------------------------------------------------------

/** This run's mark in every file a hostile value tries to create: /tmp/x<RUN><code>. */
const RUN = randomBytes(2).toString('hex');
const pwn = (code: string) => `/tmp/x${RUN}${code}`;
/** Every file name code used below: none of these may exist after the runs, here or on the host. */
const CODES = new Set<string>();

/**
 * A secret is built from segments; `own` marks the characters that are this secret's alone (its
 * random tokens and the codes of its trap files). The leak check at the end looks for every
 * 6-character piece of a secret that holds at least one such character: a piece made only of
 * shared syntax ("%(app)s", "enable_registration: true", "MXP_EOF") also occurs in outputs that
 * hold no secret at all (config files, the project's own text), so finding it proves nothing.
 */
type Seg = readonly [text: string, own: boolean];
const OWN = new Map<string, boolean[]>();
function compose(segs: Seg[]): string {
  const v = segs.map(([t]) => t).join('');
  OWN.set(v, segs.flatMap(([t, own]) => [...t].map(() => own)));
  return v;
}

/**
 * Tokens of letters that no hex digest, base64 padding or English word is likely to hold; a fresh
 * one between every two hostile pieces, so that almost every piece of a secret is its own.
 */
const TOKEN_ALPHABET = 'GHJKLMNPQRSTVWXYZghjkmnpqrstvwxyz';
const token = (n = 10) => [...randomBytes(n)].map((b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join('');

/** Shell and SQL that would create /tmp/x<RUN><code><k> if anything ran it. */
function trapSegs(code: string): Seg[][] {
  const path = (k: string): Seg[] => {
    CODES.add(`${code}${k}`);
    return [[`/tmp/x${RUN}`, false], [`${code}${k}`, true]];
  };
  return [
    [['$(>', false], ...path('d'), [')', false]], // command substitution
    [['`>', false], ...path('b'), ['`', false]], // backticks
    [[';>', false], ...path('s'), [';', false]], // a command after ;
    [["'); COPY (SELECT 1) TO PROGRAM 'touch ", false], ...path('q'), ["'; --", false]], // SQL that runs a program
  ];
}

/** Quoting, escapes, printf/Python/Jinja2/YAML syntax, unicode. */
const SYNTAX = [`'"\\`, `\\'`, `\\"`, '%s', '%(app)s', '100%', '{{ x }}', '{% if %}', ' #c', ' -- ', 'é☃𝄞', 'ünï'];
/** The project's markers, each on a line of its own, a YAML key that must stay text, CR LF and U+2028. */
const MARKER_LINES = ['\nMXP_EOF\n', '\nMXP_SQL\n', '\nMXP_PW\n', '\nMXP_PY\n', '\n@@mxp ok 0\n', '\n@@mxp done\n', '\n@@out x\n',
  '\nenable_registration: true\r\n', 'line\u2028sep'];
const MARKERS_ONE_LINE = [' MXP_EOF ', ' MXP_SQL ', ' MXP_PW ', ' MXP_PY ', ' @@mxp ok 0 ', ' @@mxp done ', ' @@out x '];

/** The most hostile value a secret() accepts: any text of 8+ characters without NUL. */
function hostileSecret(code: string, o: { oneLine?: boolean } = {}): string {
  const markers = o.oneLine ? MARKERS_ONE_LINE : MARKER_LINES;
  const pieces: Seg[][] = [...SYNTAX.map((t): Seg[] => [[t, false]]), ...trapSegs(code), ...markers.map((t): Seg[] => [[t, false]])];
  return compose([[token(10), true], ...pieces.flatMap((p): Seg[] => [...p, [token(3), true]]), [token(8), true]]);
}

/**
 * The admin password: Synapse's registration tool strips it (so no blank or line break at either
 * end, as the role checks), and bcrypt reads 72 bytes at most: every piece still in those 72.
 */
function adminPassword(): string {
  const [dollar] = trapSegs('ad');
  const v = compose([[token(6), true], [`'"\\`, false], ...dollar!, [token(3), true], ['\nMXP_PW\n@@mxp ok 0\n', false], [token(3), true], ['%{{x}}é☃', false]]);
  if (Buffer.byteLength(v) > 72) throw new Error(`admin password is ${Buffer.byteLength(v)} bytes`);
  return v;
}

const S = {
  synapse_db_password: hostileSecret('db'),
  synapse_admin_password: adminPassword(),
  synapse_registration_shared_secret: hostileSecret('rs'),
  synapse_macaroon_secret_key: hostileSecret('mk'),
  synapse_form_secret: hostileSecret('fs'),
  // ldap3 (under matrix-synapse-ldap3) SASLpreps a simple bind password and refuses control
  // characters in it: one line here (a line break in it is expected to be refused: see below).
  synapse_ldap_bind_password: hostileSecret('lb', { oneLine: true }),
  synapse_email_smtp_pass: hostileSecret('sp'),
  // turnserver.conf holds a value on one line: the role refuses a line break (checked below).
  coturn_shared_secret: hostileSecret('ts', { oneLine: true }),
  mxplay_master_secret: hostileSecret('ms'),
};

/** Free text with the same traps (own codes), in every variable that takes free text. */
const freeText = (code: string, extra = '') => {
  CODES.add(`${code}d`).add(`${code}b`);
  return `it's "${code}" \\ $(>${pwn(`${code}d`)}) \`>${pwn(`${code}b`)}\` {{ 7*7 }} {% if x %} 100% é☃${extra}`;
};
// Postgres keeps 63 bytes of a name: these stay under it. '=' makes psql read a -d as a conninfo.
const DB_NAME = `syn db=x "q" it's $(>${pwn('nd')})`;
const DB_USER = `syn us=x "q" it's \`>${pwn('nu')}\``;
CODES.add('nd').add('nu');
// Synapse builds the From: header as notif_from % {app: app_name} and takes the address back with
// email.utils.parseaddr: ( ) ; , @ < > " are address syntax there (a mail From: "" otherwise), so
// the app name has none of them.
CODES.add('apb');
const APP_NAME = `Lab it's \\ \`touch ${pwn('apb')}\` $HOME {{ x }} 100% é☃ MXP_EOF`;
const SMTP_USER = `syn'ap"se $(>${pwn('su')}) é`;
CODES.add('su');
// A path with blanks, quotes, | (the separator of the probe's stat lines) and shell syntax.
const MEDIA_PATH = `/var/lib/matrix-synapse/media "it's" | $(>${pwn('md')}) é☃`;
CODES.add('md');
const NOTICES_NAME = freeText('nn', '\nMXP_EOF\n@@mxp ok 0');
const NOTICES_ROOM = freeText('nr', '\n@@out x');
const POLICY_NAME = freeText('pn', ' <b>&amp; </title><script>x</script>\nMXP_EOF');
// coturn keeps a realm on one line of at most 127 bytes, and refuses (400) a REALM holding a blank,
// a tab, ' " \\ or a line break (is_secure_string): the rest of the hostile syntax, starting with =
// (which coturn would cut from an unquoted value).
const REALM = `=lab$(>${pwn('rd')})\`>${pwn('rb')}\`;#{{y}}%é☃`;
CODES.add('rb');
CODES.add('rd');
const WELL_KNOWN_NOTE = freeText('wk', '\n</script>"}');

// LDAP: an OU, a bind entry and a filter full of what DN and filter syntax must escape.
const OU = `Lab "People", it's + $(>${pwn('ou')}) ☃`;
const BIND_CN = `Syn "apse", it's $(>${pwn('bc')}) ☃`;
CODES.add('ou').add('bc').add('al');
const ALICE_DESC = `it's "alice" $(>${pwn('al')}) * ☃`;
const ALICE_PW = 'alice-ldap-pw-1';
const BOB_PW = 'bob-ldap-pw-2';
/** RFC 4514: a DN attribute value with its special characters escaped. */
const dnValue = (v: string) => v.replace(/[\\",+;<>=]/g, '\\$&').replace(/^[ #]/, '\\$&').replace(/ $/, '\\ ');
/** RFC 4515: an assertion value in a filter. */
const filterValue = (v: string) => v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const LDAP_BASE = `ou=${dnValue(OU)},dc=lab,dc=test`;
const LDAP_BIND_DN = `cn=${dnValue(BIND_CN)},dc=lab,dc=test`;
const LDAP_FILTER = `(&(objectClass=inetOrgPerson)(description=*${filterValue(ALICE_DESC)}*)(!(description=*\\5cno "x"*)))`;

/** Every non-secret text of the inventory: a piece of a secret also in one of these may be shown. */
const NON_SECRET_TEXT = [DB_NAME, DB_USER, APP_NAME, SMTP_USER, MEDIA_PATH, NOTICES_NAME, NOTICES_ROOM, POLICY_NAME, REALM,
  WELL_KNOWN_NOTE, LDAP_BASE, LDAP_BIND_DN, LDAP_FILTER].join('\u0000');

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** slapd for dc=lab,dc=test: the hostile OU with alice (matches the filter) and bob (does not), and the bind entry. */
function slapdSetup(): string {
  const ldif = [
    `dn:: ${b64(LDAP_BASE)}`, 'objectClass: organizationalUnit', `ou:: ${b64(OU)}`, '',
    `dn:: ${b64(`uid=alice,${LDAP_BASE}`)}`, 'objectClass: inetOrgPerson', 'uid: alice', 'cn: Alice Liddell', 'sn: Liddell',
    'mail: alice@lab.test', `description:: ${b64(ALICE_DESC)}`, `userPassword: ${ALICE_PW}`, '',
    `dn:: ${b64(`uid=bob,${LDAP_BASE}`)}`, 'objectClass: inetOrgPerson', 'uid: bob', 'cn: Bob Builder', 'sn: Builder',
    'mail: bob@lab.test', 'description: not the one', `userPassword: ${BOB_PW}`, '',
    `dn:: ${b64(LDAP_BIND_DN)}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', `cn:: ${b64(BIND_CN)}`,
    `userPassword:: ${b64(S.synapse_ldap_bind_password)}`, '',
  ].join('\n');
  return `set -e
export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean false
slapd slapd/domain string lab.test
slapd shared/organization string Lab
slapd slapd/password1 password e2e-ldap-admin-pw-7
slapd slapd/password2 password e2e-ldap-admin-pw-7
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
EOF
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install slapd ldap-utils >/dev/null
echo '${b64(ldif)}' | base64 -d | ldapadd -x -H ldap://127.0.0.1 -D cn=admin,dc=lab,dc=test -w e2e-ldap-admin-pw-7 >/dev/null
echo '${b64(S.synapse_ldap_bind_password)}' | base64 -d > /root/bindpw
ldapsearch -x -LLL -H ldap://127.0.0.1 -D '${LDAP_BIND_DN.replace(/'/g, `'\\''`)}' -y /root/bindpw -b '${LDAP_BASE.replace(/'/g, `'\\''`)}' '${LDAP_FILTER.replace(/'/g, `'\\''`)}' uid
rm /root/bindpw
`;
}

// ---- small clients ------------------------------------------------------------------------------

/** A request to nginx on the host by name (SNI and Host), trusting only the host's lab CA. */
const https = httpsByName;

/** RFC 2047 encoded words (B and Q) of a header decoded. */
function decodeHeader(h: string): string {
  return h.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*(?==\?)/g, '=?$1?$2?$3?=').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _cs, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, x: string) => String.fromCharCode(parseInt(x, 16))), 'latin1').toString('utf8'));
}

/** What a browser shows for HTML text (the references htmlText and jinjaHtmlText write). */
const htmlDecode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|#123|#125|#13);/g, (_, e: string) =>
  ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#123': '{', '#125': '}', '#13': '\r' })[e]!);

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---- the test -----------------------------------------------------------------------------------

describe('hostile values in every secret and free-text variable: the stack converges, works, runs nothing, leaks nothing', () => {
  let lab: LabFixture;
  let sink: SmtpSink;
  let project: string;
  let home: string;
  let tmp: string;
  let ca: string;
  let slapd: Promise<{ code: number; stdout: string; stderr: string }>;
  const seconds: Record<string, number> = {};
  /** Every output of every mxplay run of this file, for the leak check at the end. */
  const outputs: { label: string; text: string }[] = [];
  /** Secret values of runs with other values than the inventory's (rotation, refused input): checked too. */
  const otherSecrets: Record<string, string> = {};
  const cli = async (...args: string[]): Promise<CliResult> => {
    const t0 = Date.now();
    const r = await mxplay(args, { cwd: project, env: { HOME: home, TMPDIR: tmp } });
    seconds[args.join(' ')] = (Date.now() - t0) / 1000;
    outputs.push({ label: `mxplay ${args.join(' ')} (stdout)`, text: r.stdout }, { label: `mxplay ${args.join(' ')} (stderr)`, text: r.stderr });
    return r;
  };
  const run = (...args: string[]) => cli('run', 'site.yml', '-i', 'e2e', ...args);
  const ip = () => lab.host(HOST).ip;
  const direct = () => `http://${ip()}:8008`;
  const client = (path: string, init: Parameters<typeof https>[4] = {}) => https(ip(), ca, MATRIX, path, init);
  let adminToken: string;

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await labHosts([HOST, LDAP_HOST]);
    seconds.boot = (Date.now() - t0) / 1000;
    // slapd installs while the stack converges; the LDAP login test waits for it.
    slapd = lab.ssh(LDAP_HOST, slapdSetup());
    sink = await startSmtpSink(CONTROL_IP, 0, { auth: { user: SMTP_USER, pass: S.synapse_email_smtp_pass } });
    project = await projectDir('hostile');
    home = await projectDir('hostile-home');
    tmp = await projectDir('hostile-tmp');
    ca = '';
    // Values are Jinja to mxplay as to Ansible: the hostile text ({{ x }}, {% if %}) is written literally.
    await lab.writeInventory(join(project, 'inventory', 'e2e'), jinjaLiteral({
      ...S,
      synapse_package_source: 'debian',
      synapse_server_name: SERVER,
      synapse_public_baseurl: `https://${MATRIX}/`,
      synapse_bind_addresses: ['0.0.0.0'],
      synapse_admin_user: 'admin',
      synapse_db_name: DB_NAME,
      synapse_db_user: DB_USER,
      synapse_media_store_path: MEDIA_PATH,
      synapse_listener_resources: ['client', 'federation', 'consent'],
      synapse_email_smtp_host: CONTROL_IP,
      synapse_email_smtp_port: sink.port,
      synapse_email_smtp_user: SMTP_USER,
      synapse_email_require_transport_security: false,
      synapse_email_enable_tls: false,
      synapse_email_notif_from: `%(app)s <noreply@${SERVER}>`,
      synapse_email_app_name: APP_NAME,
      synapse_ldap_uri: `ldap://${LDAP_HOST}:389`,
      synapse_ldap_start_tls: false,
      synapse_ldap_base: LDAP_BASE,
      synapse_ldap_bind_dn: LDAP_BIND_DN,
      synapse_ldap_filter: LDAP_FILTER,
      synapse_server_notices_system_mxid_display_name: NOTICES_NAME,
      synapse_server_notices_room_name: NOTICES_ROOM,
      synapse_server_notices_auto_join: true,
      synapse_consent_version: '1.0',
      synapse_consent_policies: { '1.0': '<p>Be excellent to each other.</p>' },
      synapse_consent_policy_name: POLICY_NAME,
      coturn_realm: REALM,
      coturn_turn_uris: [`turn:${SERVER}:3478?transport=udp`],
      coturn_allowed_peer_ips: ['10.231.0.0/24'],
      proxy_tls_self_signed: true,
      proxy_serve_base_domain: true,
      proxy_well_known_client_extra: { 'org.example.note': WELL_KNOWN_NOTE },
    }), { matrix: [HOST] });
    await writeFile(join(project, 'site.yml'),
      '- hosts: matrix\n  roles: [postgres, synapse, synapse_email, synapse_ldap, synapse_server_notices, synapse_consent, coturn, nginx]\n');
  });

  afterAll(async () => {
    console.log('hostile-values e2e timings (s):', JSON.stringify(seconds));
    await sink?.close();
    await lab?.stop();
  });

  it('values a role cannot carry are refused before any host is touched, each naming its key and never its value', async () => {
    // One value swapped per key, in an -e file (secrets never in argv).
    const refusedSchema: Record<string, string> = {
      // Synapse's registration tool strips the password: a leading blank would be lost.
      synapse_admin_password: compose([[' ', false], [token(), true], [`'"$(>${pwn('xa')})`, false]]),
      // One line of turnserver.conf.
      coturn_shared_secret: compose([[token(), true], [`\n$(>${pwn('xt')})\nno-auth`, false], [token(), true]]),
      coturn_realm: `realm\nno-auth ${token()}`,
      // Shorter than a secret's 8 characters.
      synapse_registration_shared_secret: `'$(x)${token(1)}`,
      synapse_ldap_filter: `objectClass=* ${token()}`,
    };
    // No shell, file or SQL value can carry a NUL: refused in every secret.
    const refusedNul: Record<string, string> = Object.fromEntries(
      (['synapse_db_password', 'synapse_macaroon_secret_key', 'synapse_form_secret', 'synapse_ldap_bind_password', 'synapse_email_smtp_pass'] as const)
        .map((k) => [k, compose([[token(), true], [`\0$(>${pwn(`x${k.length}`)})`, false], [token(), true]])]),
    );
    for (const [k, v] of Object.entries({ ...refusedSchema, ...refusedNul })) if (k in S && v.length >= 8) otherSecrets[`refused ${k}`] = v;
    CODES.add('xa').add('xt');
    for (const k of Object.keys(refusedNul)) CODES.add(`x${k.length}`);

    for (const [file, values] of [['refused-schema.yml', refusedSchema], ['refused-nul.yml', refusedNul]] as const) {
      await writeFile(join(project, file), stringify(jinjaLiteral(values)));
      const r = await run('--check', '-e', `@${file}`);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/problems? in the input; nothing was changed on any host/);
      for (const key of Object.keys(values)) expect(r.stderr, key).toMatch(new RegExp(`key ${key}: ${key}: `));
    }
    // Nothing reached the host: no package, no mxplay state.
    const host = await lab.ssh(HOST, 'test -e /var/lib/mxplay && echo state; dpkg -s postgresql >/dev/null 2>&1 && echo installed; echo checked');
    expect(host.stdout.trim()).toBe('checked');
  });

  it('values the services behind the roles cannot use are refused too, before any host is touched', async () => {
    // coturn answers 400 to a REALM with a blank, a tab, ' " \\ or a line break (is_secure_string),
    // so no client could authenticate; ldap3 SASLpreps a simple bind password and refuses control
    // characters (LDAPSASLPrepError), so no LDAP login could work. The roles take both today.
    const values: Record<string, string> = {
      coturn_realm: `Lab "TURN" it's ${token()}`,
      synapse_ldap_bind_password: compose([[token(), true], ['\n@@mxp ok 0\n', false], [token(), true]]),
    };
    otherSecrets['refused synapse_ldap_bind_password'] = values.synapse_ldap_bind_password!;
    await writeFile(join(project, 'refused-use.yml'), stringify(jinjaLiteral(values)));
    const r = await run('--check', '-e', '@refused-use.yml');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    for (const key of Object.keys(values)) expect(r.stderr, key).toMatch(new RegExp(`key ${key}: ${key}: `));
  });

  it('--check, plan and show on the bare host: the whole stack planned, exit 0', async () => {
    const check = await run('--check', '--diff');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('+ apt matrix-synapse');
    const json = await run('--check', '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(json.json?.hosts[0]?.changes.length).toBeGreaterThan(10);
    const plan = await cli('plan', 'site.yml', '-i', 'e2e', '-o', 'plan.json');
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    for (const fmt of ['text', 'markdown', 'json']) {
      const show = await cli('show', 'plan.json', '--format', fmt);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain('matrix-synapse');
    }
  });

  it('converges from the bare host in one run; every fragment reads back, in Synapse\'s own YAML parser, as exactly the values', async () => {
    // -vv and a log file: every script sent is shown (and logged), each secret masked; the leak
    // check at the end reads both.
    const r = await run('--yes', '--diff', '-vv', '--log-file', join(tmp, 'converge.log'));
    expect(r.stderr).toMatch(/^\[hv1\] apply script, round trip \d+ \(\d+ bytes\):$/m);
    const journal = r.code === 0 ? '' : (await lab.ssh(HOST, 'journalctl -u matrix-synapse --no-pager -n 60')).stdout;
    expect(r.code, `${r.stdout}\n${r.stderr}\n${journal}`).toBe(0);
    expect(r.stdout).toMatch(/\*{8}/); // secrets were shown, masked

    const read = await lab.ssh(HOST, `python3 - <<'EOF'
import glob, json, yaml
print(json.dumps({f.split('/')[-1]: yaml.safe_load(open(f)) for f in sorted(glob.glob('${CONF}/*.yaml'))}))
EOF`);
    expect(read.code, read.stderr).toBe(0);
    const conf = JSON.parse(read.stdout);
    expect(conf['database.yaml']).toEqual({
      database: { name: 'psycopg2', args: { user: DB_USER, password: S.synapse_db_password, database: DB_NAME, host: 'localhost', port: 5432, cp_min: 5, cp_max: 10 } },
    });
    expect(conf['secrets.yaml']).toEqual({
      registration_shared_secret: S.synapse_registration_shared_secret,
      macaroon_secret_key: S.synapse_macaroon_secret_key,
      form_secret: S.synapse_form_secret,
    });
    expect(conf['email.yaml'].email).toMatchObject({ smtp_user: SMTP_USER, smtp_pass: S.synapse_email_smtp_pass, app_name: APP_NAME });
    expect(conf['ldap.yaml'].modules).toEqual([{
      module: 'ldap_auth_provider.LdapAuthProviderModule',
      config: {
        enabled: true, uri: `ldap://${LDAP_HOST}:389`, start_tls: false, base: LDAP_BASE, attributes: { uid: 'uid', mail: 'mail', name: 'cn' },
        bind_dn: LDAP_BIND_DN, bind_password: S.synapse_ldap_bind_password, filter: LDAP_FILTER,
      },
    }]);
    expect(conf['turn.yaml']).toMatchObject({ turn_shared_secret: S.coturn_shared_secret });
    expect(conf['server_notices.yaml'].server_notices).toMatchObject({ system_mxid_display_name: NOTICES_NAME, room_name: NOTICES_ROOM });
    expect(conf['user_consent.yaml'].user_consent).toMatchObject({ policy_name: POLICY_NAME });
    expect(conf['media.yaml'].media_store_path).toBe(MEDIA_PATH);
    // The YAML key in the secrets stayed text: registration is still by token only.
    expect(conf['registration.yaml']).toEqual({ enable_registration: true, registration_requires_token: true });

    const caPem = await lab.ssh(HOST, 'cat /etc/ssl/mxplay-selfsigned/ca.crt');
    expect(caPem.stdout).toContain('BEGIN CERTIFICATE');
    ca = caPem.stdout;
  });

  it('the admin logs in through nginx with the hostile password; Synapse works on PostgreSQL and stores media under the hostile path', async () => {
    const versions = await client('/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);
    const login = await eventually(async () => {
      const l = await client('/_matrix/client/v3/login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'admin' }, password: S.synapse_admin_password },
      });
      expect(l.status, l.text).toBe(200);
      return l;
    }, 30_000, 1000);
    expect(login.json.user_id).toBe(`@admin:${SERVER}`);
    adminToken = login.json.access_token;
    expect(adminToken).toBeTruthy();
    const wrong = await client('/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'admin' }, password: S.synapse_admin_password.slice(0, -1) },
    });
    expect(wrong.status, wrong.text).toBe(403);

    const up = await client('/_matrix/media/v3/upload?filename=x.bin', { token: adminToken, raw: Buffer.from(`media ${RUN}`) });
    expect(up.status, up.text).toBe(200);
    const mediaId = String(up.json.content_uri).split('/').pop()!;
    const stored = await lab.ssh(HOST, `find ${sq(MEDIA_PATH)} -type f | grep -c ${sq(mediaId.slice(4))}; stat -c '%U %a' ${sq(MEDIA_PATH)}`);
    expect(stored.stdout.trim().split('\n')).toEqual(['1', 'matrix-synapse 750']);
  });

  it('the hostile registration shared secret registers a user by HMAC; the hostile form secret signs the consent link; names show as given', async () => {
    const nonce = await api(direct(), '/_synapse/admin/v1/register');
    expect(nonce.status, nonce.text).toBe(200);
    const user = `hmac${RUN}`;
    const password = `e2e-user-password-${RUN}`;
    const mac = createHmac('sha1', S.synapse_registration_shared_secret)
      .update(`${nonce.json.nonce}\0${user}\0${password}\0notadmin`).digest('hex');
    const reg = await api(direct(), '/_synapse/admin/v1/register', { body: { nonce: nonce.json.nonce, username: user, password, admin: false, mac } });
    expect(reg.status, reg.text).toBe(200);
    expect(reg.json.user_id).toBe(`@${user}:${SERVER}`);

    const h = createHmac('sha256', S.synapse_form_secret).update('admin').digest('hex');
    const page = await api(direct(), `/_matrix/consent?u=admin&h=${h}`);
    expect(page.status, page.text).toBe(200);
    expect(page.text).toContain('<form');
    expect((await api(direct(), `/_matrix/consent?u=admin&h=${'0'.repeat(64)}`)).status).toBe(403);
    // The policy name is text in the page: no tag, no Jinja2 ran ({{ 7*7 }} is not 49).
    expect(page.text).not.toContain('<script>x</script>');
    expect(page.text).not.toContain('<b>&amp;');
    expect(htmlDecode(page.text)).toContain(POLICY_NAME);

    const notice = await api(direct(), '/_synapse/admin/v1/send_server_notice', {
      token: adminToken, body: { user_id: `@admin:${SERVER}`, content: { msgtype: 'm.text', body: `notice ${RUN}` } },
    });
    expect(notice.status, notice.text).toBe(200);
    // The notices room (auto-joined): its name, and the system user's display name in its membership.
    type Ev = { type: string; state_key?: string; content: { name?: string; displayname?: string } };
    const events = await eventually(async () => {
      const s = await client('/_matrix/client/v3/sync?timeout=0', { token: adminToken });
      expect(s.status, s.text).toBe(200);
      const rooms = Object.values((s.json.rooms?.join ?? {}) as Record<string, { state: { events: Ev[] }; timeline: { events: Ev[] } }>);
      const all = rooms.flatMap((r) => [...r.state.events, ...r.timeline.events]);
      expect(all.find((e) => e.type === 'm.room.name'), s.text).toBeDefined();
      return all;
    }, 30_000, 1000);
    expect(events.find((e) => e.type === 'm.room.name')!.content.name).toBe(NOTICES_ROOM);
    expect(events.find((e) => e.type === 'm.room.member' && e.state_key === `@notices:${SERVER}`)?.content.displayname).toBe(NOTICES_NAME);

    const wk = await https(ip(), ca, SERVER, '/.well-known/matrix/client');
    expect(wk.status, wk.text).toBe(200);
    expect(wk.json['org.example.note']).toBe(WELL_KNOWN_NOTE);
  });

  it('Synapse logs in to the SMTP relay with the hostile user and password and delivers its mail', async () => {
    const req = await client('/_matrix/client/v3/account/3pid/email/requestToken', {
      token: adminToken, body: { client_secret: `hostile${RUN}`, email: 'someone@example.org', send_attempt: 1 },
    });
    expect(req.status, req.text).toBe(200);
    const mail = await sink.waitFor((m) => m.to.includes('someone@example.org'), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}; refused logins: ${sink.authFailures.length}`);
    });
    expect(sink.authFailures).toEqual([]);
    expect(mail.authUser).toBe(SMTP_USER);
    expect(mail.from).toBe(`noreply@${SERVER}`);
    expect(decodeHeader(mail.headers.from!)).toBe(`${APP_NAME} <noreply@${SERVER}>`);
  });

  it('an LDAP user of the hostile base, matching the hostile filter, logs in through the hostile bind DN and password; one outside the filter does not', async () => {
    const s = await slapd;
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toContain('uid: alice');
    expect(s.stdout).not.toContain('uid: bob');
    const login = (user: string, password: string) => client('/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
    });
    const alice = await login('alice', ALICE_PW);
    if (alice.status !== 200) {
      // What ldap3 itself says, with the fragment's own values (the exception names no value).
      const diag = await lab.ssh(HOST, `python3 - <<'EOF'
import yaml, ldap3
c = yaml.safe_load(open('${CONF}/ldap.yaml'))['modules'][0]['config']
try:
    conn = ldap3.Connection(ldap3.Server(c['uri']), c['bind_dn'], c['bind_password'], auto_bind=True)
    print('bind ok; search:', conn.search(c['base'], '(&(uid=alice)' + c['filter'] + ')', attributes=['uid']), len(conn.entries))
except Exception as e:
    print('ldap3:', type(e).__name__, e)
EOF`);
      expect(alice.status, `${alice.text}\n${diag.stdout}${diag.stderr}`).toBe(200);
    }
    expect(alice.json.user_id).toBe(`@alice:${SERVER}`);
    const bob = await login('bob', BOB_PW);
    expect(bob.status, bob.text).toBe(403);
  });

  it('coturn relays with the credentials Synapse derives from the hostile shared secret, in the hostile realm', async () => {
    const turn = await client('/_matrix/client/v3/voip/turnServer', { token: adminToken });
    expect(turn.status, turn.text).toBe(200);
    expect(turn.json.uris).toEqual([`turn:${SERVER}:3478?transport=udp`]);
    const uclient = `timeout 60 turnutils_uclient -y -n 10 -m 1 -l 170 -p 3478 -u ${sq(turn.json.username)} -w ${sq(turn.json.password)} ${ip()}`;
    const ok = await lab.ssh(HOST, `${uclient} 2>&1; echo "exit=$?"`);
    expect(ok.stdout, ok.stdout.split('\n').slice(-15).join('\n')).toMatch(/exit=0\s*$/);
    const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(ok.stdout);
    expect(totals, ok.stdout.split('\n').slice(-15).join('\n')).not.toBeNull();
    expect(Number(totals![1])).toBeGreaterThan(0);
    expect(Number(totals![2])).toBe(Number(totals![1]));
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json', '-vvv');
    // psql reads a -d holding '=' as a connection string: what it says about the hostile database name.
    const psql = r.code === 0 ? '' : (await lab.ssh(HOST, `runuser -u postgres -- psql -X -At -d ${sq(DB_NAME)} -c 'SELECT 1' 2>&1`)).stdout;
    expect(r.code, `${r.stdout}${r.stderr}\npsql -d <synapse_db_name>: ${psql}`).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes).map((c) => `${c.action} ${c.type} ${c.id}: ${c.summary}`)).toEqual([]);
    expect(changedOf(r, HOST)).toBe(0);
  });

  it('every secret replaced by another hostile one: --check and plan show the changes, both old and new values masked', async () => {
    const rotated = Object.fromEntries(Object.keys(S).map((k) => [k, k === 'synapse_admin_password' ? adminPassword() : hostileSecret(`r${k.length}`, { oneLine: k === 'coturn_shared_secret' || k === 'synapse_ldap_bind_password' })]));
    Object.assign(otherSecrets, Object.fromEntries(Object.entries(rotated).map(([k, v]) => [`rotated ${k}`, v])));
    await writeFile(join(project, 'rotated.yml'), stringify(jinjaLiteral(rotated)));
    const check = await run('--check', '--diff', '-e', '@rotated.yml');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    for (const f of ['database', 'secrets', 'email', 'ldap', 'turn']) expect(check.stdout).toContain(`~ yaml ${CONF}/${f}.yaml`);
    expect(check.stdout).toContain('~ template /etc/turnserver.conf');
    const json = await run('--check', '--json', '-e', '@rotated.yml');
    expect(json.code, json.stderr).toBe(0);
    const plan = await cli('plan', 'site.yml', '-i', 'e2e', '-e', '@rotated.yml', '-o', 'plan-rotated.json');
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    for (const fmt of ['text', 'markdown', 'json']) {
      const show = await cli('show', 'plan-rotated.json', '--format', fmt);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain('turnserver.conf');
    }
    // A dry run: the host still has the first values, nothing to change against the inventory.
    const again = await run('--check', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
  });

  it('no file that a value tried to create exists, on the host or on the control machine', async () => {
    const onHost = await lab.ssh(HOST, `find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -name '*x${RUN}*' -print 2>/dev/null`);
    const hostHits = onHost.stdout.split('\n').filter((l) => l && !l.startsWith(MEDIA_PATH) && !l.startsWith('/var/lib/postgresql'));
    expect(hostHits).toEqual([]);
    const onLdap = await lab.ssh(LDAP_HOST, `find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -name '*x${RUN}*' -print 2>/dev/null`);
    expect(onLdap.stdout.trim()).toBe('');
    const here = await new Promise<string>((resolve) =>
      execFile('find', ['/tmp', home, tmp, project, '-maxdepth', '3', '-name', `*x${RUN}*`], (_e, out) => resolve(out)));
    expect(here.trim()).toBe('');
    expect(CODES.size).toBeGreaterThan(40);
  });

  it('no output or file of any run holds a secret, or any 6-character piece of one', async () => {
    const files = async (dir: string): Promise<string[]> =>
      (await readdir(dir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    const written = [...(await files(project)), ...(await files(home)), ...(await files(tmp))];
    // (plan-rotated.json too, unless its step failed: the scan runs on whatever there is.)
    expect(written.map((f) => f.slice(project.length + 1))).toEqual(expect.arrayContaining(['plan.json']));
    // The inventory and the -e files hold the secrets by design; everything else mxplay wrote is checked.
    const own = (f: string) => f.startsWith(join(project, 'inventory')) || /\/(rotated|refused-schema|refused-nul|refused-use)\.yml$/.test(f);
    const raw = [
      ...outputs,
      ...(await Promise.all(written.filter((f) => !own(f)).map(async (f) => ({ label: f, text: await readFile(f, 'utf8') })))),
    ];
    // JSON outputs also as their decoded strings: a secret escaped by JSON (\" \\ \n) is found too.
    const strings = (v: unknown): string[] =>
      typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
    const everything = raw.flatMap((o) => {
      try {
        return [o, { label: `${o.label} (JSON strings)`, text: strings(JSON.parse(o.text)).join('\n') }];
      } catch {
        return [o];
      }
    });
    expect(everything.length).toBeGreaterThan(30);

    // Each secret whole, and each of its 6-character pieces (code points, so no piece splits a
    // character) that holds a character of the secret's own (a token or a trap file's code: see
    // compose). Pieces that also occur in a non-secret value of the inventory are skipped: those
    // values (names, paths, filters) are shown in plans by design.
    const secrets: Record<string, string> = { ...S, ...otherSecrets };
    const leaks = new Map<string, { pieces: number; first: string }>();
    let checked = 0;
    for (const [name, value] of Object.entries(secrets)) {
      const cps = [...value];
      const own = OWN.get(value) ?? cps.map(() => true);
      const pieces = new Set<string>([value]);
      // At least 3 own characters: one or two could match another secret's token by chance.
      for (let i = 0; i + 6 <= cps.length; i++) if (own.slice(i, i + 6).filter(Boolean).length >= 3) pieces.add(cps.slice(i, i + 6).join(''));
      for (const piece of pieces) {
        if (piece !== value && NON_SECRET_TEXT.includes(piece)) continue;
        checked++;
        for (const { label, text } of everything) {
          const at = text.indexOf(piece);
          if (at < 0) continue;
          const key = `${name} in ${label}`;
          const seen = leaks.get(key);
          if (seen) seen.pieces++;
          else leaks.set(key, { pieces: 1, first: `${JSON.stringify(piece)}: …${JSON.stringify(text.slice(Math.max(0, at - 80), at + 60))}…` });
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect([...leaks].map(([k, v]) => `${k}: ${v.pieces} piece(s), e.g. ${v.first}`)).toEqual([]);
  });
});
