import { readFileSync } from 'node:fs';
import {
  defineRole, z, secret, apt, aptSource, debconf, directory, file, service, command, flushHandlers,
  postgresRole, postgresDatabase, pipedFrom, q, serverName, hostOrIp, port, type Facts,
} from 'mxplay';
import {
  CONFIG_DIGEST, CONFIG_PATHS, CONF_DIR, FLAVOURS, RESTART_SYNAPSE, RESTART_SYNAPSE_IF_CONFIG_CHANGED, RUNNING_CONFIG, SECRET_FRAGMENT, SYNAPSE_USER,
  configDigestScript, fragment, synapseReady, synapseSharedVars,
} from './fragment.ts';
import { homeserver } from './homeserver.ts';
import { extraConfigVar, replacedFilesVar, replacedFragments } from './escape-hatches.ts';
import { txredisapi } from './redis-client.ts';
import { federationVars, keyServersConfig, rateLimitConfig, rateLimitVars } from './limits-federation.ts';
import { sharedWorkerConfig, topologyVars } from './workers.ts';
import { MAIN_DROP_INS, WORKERS_DIR, restartSynapse, retiredWorkers, workerFile, workerHandlers, workerServices, workerUnitFiles } from './worker-units.ts';

const registrationModes = ['closed', 'invite-token', 'open-email'] as const;
/** What to do when the database is to be managed here but no PostgreSQL is. */
const DB_MANAGE_HINT = 'synapse_db_manage is true: run the postgres role on this host before synapse, or set synapse_db_manage: false when the database is on another host';
/** systemd's 90 s default would kill a first start still making the database schema. */
// At each start, the digest of the configuration it starts with ('-': never a reason not to start).
const START_DROP_IN = '# managed by mxplay, role synapse: the first start makes the database schema\n[Service]\nTimeoutStartSec=15min\n' +
  `# what it started with: a config change that changes nothing it reads needs no restart\nExecStartPre=-+${CONFIG_DIGEST} --stamp\n`;
/** Synapse's signing key, as both packages' stock homeserver.yaml name it. */
const SIGNING_KEY = '/etc/matrix-synapse/homeserver.signing.key';

export default defineRole({
  name: 'synapse',
  description: 'Synapse from apt, configured by conf.d fragments, on PostgreSQL',
  vars: z.object({
    synapse_server_name: serverName.describe('the server name in user IDs (@user:server_name); cannot change later'),
    synapse_public_baseurl: z.url().describe('public URL of the client API, e.g. https://matrix.example.com/'),
    ...synapseSharedVars,
    synapse_matrix_org_keyring: z.string().optional()
      .describe("path on the control machine to matrix.org's ASCII-armoured archive key (needed for the matrix.org source)"),
    synapse_matrix_org_suite: z.string().default('bookworm').describe("the suite of matrix.org's repository (your Debian codename)"),
    synapse_report_stats: z.boolean().default(false).describe('report anonymous usage statistics to matrix.org'),
    synapse_bind_addresses: z.array(z.string()).default(['127.0.0.1', '::1']).describe('addresses the HTTP listener binds'),
    synapse_listener_resources: z.array(z.string()).default(['client', 'federation'])
      .describe('resources of the HTTP listener; other roles (consent) add theirs here'),
    synapse_db_host: z.string().default('localhost'),
    synapse_db_port: z.number().int().default(5432),
    synapse_db_name: z.string().default('synapse'),
    synapse_db_user: z.string().default('synapse'),
    synapse_db_password: secret().optional().describe('derived from mxplay_master_secret when unset'),
    synapse_db_manage: z.boolean().default(true)
      .describe('create the database role and database on this host (needs the postgres role before synapse)'),
    synapse_registration_shared_secret: secret().optional().describe('derived from mxplay_master_secret when unset'),
    synapse_macaroon_secret_key: secret().optional().describe('derived from mxplay_master_secret when unset'),
    synapse_form_secret: secret().optional().describe('derived from mxplay_master_secret when unset'),
    synapse_max_upload_size: z.string().regex(/^\d+[KMG]?$/, 'a size like 50M').default('50M'),
    synapse_media_store_path: z.string().default('/var/lib/matrix-synapse/media'),
    synapse_url_previews: z.boolean().default(false),
    synapse_url_preview_ip_range_blacklist: z.array(z.string()).default([
      '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24',
      '169.254.0.0/16', '192.88.99.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24',
      '224.0.0.0/4', '::1/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', 'fec0::/10',
    ]),
    synapse_registration: z.enum(registrationModes).default('invite-token')
      .describe('closed; invite-token (a token from the admin API is needed); open-email (email verification required)'),
    // The synapse_email role's vars, stated here so that open-email registration is never configured
    // without a way to send the verification mail.
    synapse_email_enabled: z.boolean().optional().describe("the synapse_email role's switch"),
    synapse_email_notif_from: z.string().optional().describe("the synapse_email role's sender: open-email registration needs it"),
    synapse_presence: z.boolean().default(true),
    synapse_password_localdb_enabled: z.boolean().default(true).describe('allow passwords from the local database (LDAP setups may turn it off)'),
    synapse_password_policy: z.strictObject({
      minimum_length: z.number().int().min(1).default(12),
      require_digit: z.boolean().default(false),
      require_symbol: z.boolean().default(false),
      require_lowercase: z.boolean().default(false),
      require_uppercase: z.boolean().default(false),
    }).prefault({}),
    ...rateLimitVars,
    ...federationVars,
    synapse_mau_limit: z.number().int().positive().optional().describe('block the server above this many monthly active users'),
    synapse_admin_user: z.string().regex(/^[a-z0-9._=\-/]+$/, 'a Matrix localpart (lowercase)').optional(),
    // register_new_matrix_user strips the password it reads: leading or trailing blanks would be lost.
    // It also reads the password file in text mode, where a CR becomes a line feed.
    ...topologyVars,
    synapse_redis_host: hostOrIp('redis.internal').optional()
      .describe('Redis for workers (role redis); default 127.0.0.1 when every process runs on one host'),
    synapse_redis_port: port.default(6379),
    synapse_redis_password: secret().optional().describe("derived from mxplay_master_secret (the main host's) when unset, as the redis role derives it"),
    synapse_worker_replication_secret: secret().optional().describe("what workers and the main process authenticate replication with; derived from mxplay_master_secret (the main host's) when unset"),
    synapse_signing_key: secret().regex(/^ed25519 [A-Za-z0-9_]+ [A-Za-z0-9+/]{43}=?\n?$/, 'the content of a Synapse signing key file: ed25519 <key id> <base64 key>').optional()
      .describe("the homeserver's signing key, for a homeserver on several hosts (every process signs with it); derived from mxplay_master_secret when unset"),
    synapse_pip_index_url: z.url({ protocol: /^https?$/ }).default('https://pypi.org/simple/')
      .describe("Debian's Synapse with workers: the Python package index txredisapi is installed from (Debian does not package it); a private mirror in closed networks"),
    synapse_extra_config: extraConfigVar,
    synapse_replaced_files: replacedFilesVar,
    synapse_admin_password: secret().refine((s) => !/^[\s\x1c-\x1f\x85]|[\s\x1c-\x1f\x85]$/.test(s) && !s.includes('\r'), 'no leading or trailing spaces or line breaks, and no carriage return (Synapse\'s registration tool strips or changes them)').optional(),
  }).refine((v) => v.synapse_package_source !== 'matrix.org' || !!v.synapse_matrix_org_keyring, {
    path: ['synapse_matrix_org_keyring'],
    message: 'the matrix.org package source needs the path of its archive key',
  }).refine((v) => v.synapse_registration !== 'open-email' || (v.synapse_email_enabled !== false && !!v.synapse_email_notif_from), {
    path: ['synapse_registration'],
    message: 'open-email registration sends a verification mail: configure the synapse_email role (synapse_email_notif_from, SMTP settings)',
  }).superRefine((v, ctx) => {
    // One without the other would silently register no admin: the error points at the one that is set.
    if (!v.synapse_admin_user === !v.synapse_admin_password) return;
    const [given, missing] = v.synapse_admin_user ? ['synapse_admin_user', 'synapse_admin_password'] : ['synapse_admin_password', 'synapse_admin_user'];
    ctx.addIssue({ code: 'custom', path: [given], message: `${given} needs ${missing}: the first admin is registered only with both` });
  }),
  tasks: (v, ctx) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    const pkg = flavour.package;
    const { topology, mainHere, localWorkers, secrets, redisHost } = homeserver(v, ctx);
    const owner = 'synapse';
    const frag = (name: string, data: Record<string, unknown> | null, secret = false) => fragment(name, owner, data, flavour, { secret });
    const registration = {
      closed: { enable_registration: false },
      'invite-token': { enable_registration: true, registration_requires_token: true },
      'open-email': { enable_registration: true, registrations_require_3pid: ['email'] },
    }[v.synapse_registration];
    const workers = topology.workers.length > 0;

    return [
      // Install: preseed the questions, then the package (and its PostgreSQL driver).
      debconf({ package: pkg, question: `${pkg}/server-name`, vtype: 'string', value: v.synapse_server_name }),
      debconf({ package: pkg, question: `${pkg}/report-stats`, vtype: 'boolean', value: v.synapse_report_stats }),
      v.synapse_package_source === 'matrix.org' && matrixOrgSource(v.synapse_matrix_org_keyring!, v.synapse_matrix_org_suite),
      // Not started by its install: Debian's package would start Synapse at once, and systemd restart
      // it on failure, while the fragments below are still being written; a start cut short while
      // it makes the database schema (committed file by file) leaves a schema it cannot start on.
      apt({ names: [pkg, ...(v.synapse_package_source === 'debian' ? ['python3-psycopg2'] : [])], no_start: true }),
      // The first start makes that schema: slow on a busy host, and never to be cut short.
      mainHere && [
        directory({ path: MAIN_DROP_INS, mode: 0o755 }),
        directory({ path: '/usr/local/lib/mxplay', mode: 0o755 }),
        file({ path: CONFIG_DIGEST, content: configDigestScript(flavour), mode: 0o755 }),
        file({ path: `${MAIN_DROP_INS}/mxplay-start.conf`, content: START_DROP_IN, mode: 0o644, onChange: 'systemctl daemon-reload' }),
        // A Synapse started before that (by hand, or before this role knew it): what it runs is known
        // if it started after its files last changed; otherwise 'unknown', and a change restarts it.
        command({
          name: `record the configuration Synapse runs (${RUNNING_CONFIG})`,
          creates: RUNNING_CONFIG,
          cmd: `started=$(date -d "$(systemctl show -p ExecMainStartTimestamp --value matrix-synapse)" +%s 2>/dev/null); ` +
            `newest=$(stat -c %Y /etc/matrix-synapse/homeserver.yaml ${CONF_DIR}/*.yaml 2>/dev/null | sort -n | tail -n 1); ` +
            `if systemctl is-active -q matrix-synapse && [ -n "$started" ] && [ -n "$newest" ] && [ "$newest" -lt "$started" ]; then ${CONFIG_DIGEST} --stamp; else echo unknown > ${RUNNING_CONFIG}; fi`,
        }),
      ],
      // A host of workers only: the package's own unit would start a second main process.
      !mainHere && service({ name: 'matrix-synapse', enabled: false, state: 'stopped' }),
      // Workers talk to each other through Redis, which Synapse reaches with txredisapi: Debian
      // does not package it (matrix.org's packages bundle it), so it comes from a package index.
      workers && v.synapse_package_source === 'debian' && txredisapi(flavour, v.synapse_pip_index_url),

      // The database: UTF8 with C collation, from template0, as Synapse requires (by the main host).
      mainHere && v.synapse_db_manage && [
        postgresRole({ name: v.synapse_db_user, password: secrets.db, missingServerHint: DB_MANAGE_HINT }),
        postgresDatabase({ name: v.synapse_db_name, owner: v.synapse_db_user, encoding: 'UTF8', lc_collate: 'C', lc_ctype: 'C', missingServerHint: DB_MANAGE_HINT }),
      ],
      directory({ path: v.synapse_media_store_path, owner: 'matrix-synapse', group: 'nogroup', mode: 0o750 }),
      // The signing key, as the unit's ExecStartPre would make it at the first start (which comes
      // only at the end of the play): Synapse's config check needs it. Several hosts: one for all.
      secrets.signingKey === undefined && command({
        name: `generate ${SIGNING_KEY}`,
        creates: SIGNING_KEY,
        cmd: `{ cd /var/lib/matrix-synapse 2>/dev/null || cd /; } && runuser -u ${SYNAPSE_USER} -- ${flavour.python} -m synapse.app.homeserver ${CONFIG_PATHS} --generate-keys`,
      }),
      // Synapse makes it 0640 matrix-synapse:nogroup: every daemon of group nogroup could read it
      // and sign as this server. Synapse's user alone (it stays the owner); as old keys are too.
      secrets.signingKey === undefined
        && command({ name: `chmod 0600 ${SIGNING_KEY}`, cmd: `chmod 0600 ${SIGNING_KEY}`, unless: `[ "$(stat -c %a ${SIGNING_KEY})" = 600 ]` }),
      secrets.signingKey !== undefined && file({ path: SIGNING_KEY, content: secrets.signingKey, ...SECRET_FRAGMENT, sensitive: true, notify: RESTART_SYNAPSE }),

      // Configuration: one fragment per concern, validated together before Synapse restarts. On a
      // homeserver of several hosts every host gets the same fragments.
      frag('server_name', { server_name: v.synapse_server_name }),
      frag('report_stats', { report_stats: v.synapse_report_stats }),
      frag('server', {
        public_baseurl: v.synapse_public_baseurl,
        presence: { enabled: v.synapse_presence },
      }),
      frag('key_servers', keyServersConfig(v)),
      frag('federation', v.synapse_ip_range_whitelist.length ? { ip_range_whitelist: v.synapse_ip_range_whitelist } : null),
      frag('rate_limits', rateLimitConfig(v)),
      frag('listeners', {
        listeners: [
          {
            port: v.synapse_http_port,
            tls: false,
            type: 'http',
            x_forwarded: true,
            bind_addresses: v.synapse_bind_addresses,
            resources: [{ names: v.synapse_listener_resources, compress: false }],
          },
          // Workers reach the main process by HTTP replication.
          ...(workers
            ? [{ port: topology.replicationPort, tls: false, type: 'http', bind_addresses: [topology.mainAddress], resources: [{ names: ['replication'], compress: false }] }]
            : []),
        ],
      }),
      frag('database', {
        database: {
          name: 'psycopg2',
          args: {
            user: v.synapse_db_user, password: secrets.db, database: v.synapse_db_name,
            host: v.synapse_db_host, port: v.synapse_db_port, cp_min: 5, cp_max: 10,
          },
        },
      }, true),
      frag('secrets', {
        registration_shared_secret: secrets.registration,
        macaroon_secret_key: secrets.macaroon,
        form_secret: secrets.form,
      }, true),
      frag('workers', workers ? sharedWorkerConfig(topology, { replication: secrets.replication!, redisPassword: secrets.redis! }, { host: redisHost, port: v.synapse_redis_port }) : null, true),
      frag('media', { media_store_path: v.synapse_media_store_path, max_upload_size: v.synapse_max_upload_size }),
      frag('url_previews', v.synapse_url_previews
        ? { url_preview_enabled: true, url_preview_ip_range_blacklist: v.synapse_url_preview_ip_range_blacklist }
        : null),
      frag('registration', registration),
      frag('password', {
        password_config: { enabled: true, localdb_enabled: v.synapse_password_localdb_enabled, policy: { enabled: true, ...v.synapse_password_policy } },
      }),
      frag('mau_limit', v.synapse_mau_limit ? { limit_usage_by_mau: true, max_mau_value: v.synapse_mau_limit } : null),
      // Hand-written options kept (any may be a secret: 0600 and no diff), and the hand-written
      // files the fragments above replace, removed in the same validation set.
      fragment('extra', owner, Object.keys(v.synapse_extra_config).length ? v.synapse_extra_config : null, flavour, { secret: true, sensitive: true }),
      replacedFragments(v.synapse_replaced_files, flavour),

      // This host's workers: units, one file each (checked by Synapse with the shared config),
      // and the retirement of workers no longer declared here.
      localWorkers.length > 0 && [
        workerUnitFiles(flavour, mainHere),
        directory({ path: WORKERS_DIR, mode: 0o755 }),
        localWorkers.map((w) => workerFile(w, flavour)),
      ],
      retiredWorkers(localWorkers.map((w) => w.name)),
    ];
  },
  // Other roles of the play (consent, email, LDAP, ...) add fragments that Synapse may need at its
  // first start (a consent listener without user_consent kills it): start it once they all wrote theirs.
  atPlayEnd: (v, ctx) => {
    const { mainHere, localWorkers } = homeserver(v, ctx);
    return [
      mainHere && service({ name: 'matrix-synapse', enabled: true, state: 'started', ready: synapseReady(v.synapse_http_port) }),
      localWorkers.length > 0 && workerServices(localWorkers),
      // A changed config must be live before the admin user is registered against it.
      flushHandlers(),
      mainHere && v.synapse_admin_user && v.synapse_admin_password
        && registerAdmin(v.synapse_admin_user, v.synapse_admin_password, v.synapse_server_name, v.synapse_http_port, FLAVOURS[v.synapse_package_source],
          v.synapse_db_manage ? v.synapse_db_name : undefined),
    ];
  },
  // Listeners beyond loopback only: the main one, replication for workers elsewhere, this host's workers.
  ports: (v, ctx) => {
    const { mainHere, localWorkers, topology } = homeserver(v, { ...ctx, servedPorts: [] });
    const beyond = (a: string) => !/^(127\.|::1$|localhost$)/.test(a);
    return [
      ...(mainHere && v.synapse_bind_addresses.some(beyond) ? [{ protocol: 'tcp' as const, port: v.synapse_http_port, why: 'Synapse HTTP listener' }] : []),
      ...(mainHere && topology.workers.length && beyond(topology.mainAddress) ? [{ protocol: 'tcp' as const, port: topology.replicationPort, why: 'Synapse replication, for workers' }] : []),
      ...localWorkers.filter((w) => w.port !== undefined && w.address && beyond(w.address)).map((w) => ({ protocol: 'tcp' as const, port: w.port!, why: `Synapse worker ${w.name}` })),
    ];
  },
  handlers: (v, ctx) => {
    const { mainHere, localWorkers } = homeserver(v, ctx);
    return {
      // The shared config changed: every Synapse process of this host restarts, main first.
      [RESTART_SYNAPSE]: restartSynapse(mainHere ? v.synapse_http_port : undefined, localWorkers),
      [RESTART_SYNAPSE_IF_CONFIG_CHANGED]: restartSynapse(mainHere ? v.synapse_http_port : undefined, localWorkers, { ifConfigChanged: true }),
      ...workerHandlers(localWorkers),
    };
  },
});

function matrixOrgSource(keyring: string, suite: string) {
  return aptSource({
    name: 'matrix-org',
    uris: 'https://packages.matrix.org/debian/',
    suites: suite,
    components: 'main',
    key: readFileSync(keyring, 'utf8'),
  });
}

/**
 * The first admin, created once. The check asks Synapse's own database: with the database on this
 * host, with the other queries of the probe (no extra process); elsewhere, with the credentials of
 * the database fragment, from Synapse's Python. Either way it needs no password.
 */
function registerAdmin(user: string, password: string, server: string, port: number, f: typeof FLAVOURS.debian, localDb?: string) {
  const mxid = `@${user}:${server}`;
  const query = `SELECT 1 FROM users WHERE name = '${mxid.replaceAll("'", "''")}'`;
  return command({
    name: `register admin ${mxid}`,
    // No users table yet (Synapse never started) reads as "not registered".
    ...(localDb
      ? { doneWhen: { facts: { sql: [{ db: localDb, query }] }, read: (facts: Facts) => { const r = facts.sql(localDb, query); return 'rows' in r && r.rows.length > 0; } } }
      : { unless: adminExistsPython(mxid, f) }),
    cmd: pipedFrom(password, `${f.registerCommand} --admin -u ${q(user)} --password-file /dev/stdin -c /etc/matrix-synapse/conf.d/secrets.yaml http://127.0.0.1:${port}`),
  });
}

function adminExistsPython(mxid: string, f: typeof FLAVOURS.debian): string {
  return pipedFrom(`import sys, yaml, psycopg2
args = yaml.safe_load(open('/etc/matrix-synapse/conf.d/database.yaml'))['database']['args']
conn = psycopg2.connect(**{k: v for k, v in args.items() if k in ('user', 'password', 'database', 'host', 'port')})
cur = conn.cursor()
cur.execute('SELECT 1 FROM users WHERE name = %s', (sys.argv[1],))
raise SystemExit(0 if cur.fetchone() else 1)
`, `${f.python} - ${q(mxid)}`);
}
