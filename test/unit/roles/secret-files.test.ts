// Every file the built-in roles write that holds a secret, found from the roles themselves, with
// its owner, group and mode: none may be readable by "other", by a group other daemons share
// (nogroup on Debian), or by any user or group that is not the reading service's own.
//
// How a secret-bearing file is found: every role is built twice for the same two hosts, with every
// secret input different between the builds (each secret() variable, and mxplay_master_secret from
// which unset secrets are derived). Only secrets differ, so a file whose content differs between
// the builds holds a secret (planted or derived, however encoded). One host sets every secret
// variable (planted values, also searched for by name), the other none (all derived).
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { describeVars } from '../../../src/roles/docs.ts';
import { availableRoles, loadRole, roleSearchPath } from '../../../src/roles/loader.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** Who reads a file: the service's own user and groups (root reads everything anyway). */
interface Service { users: string[]; groups: string[]; runsAsRoot?: boolean }
const SERVICES: Record<string, Service> = {
  // Debian's and matrix.org's packages: user matrix-synapse, primary group nogroup (shared).
  synapse: { users: ['matrix-synapse'], groups: [] },
  // Debian's coturn: user and group turnserver, made by the package for it alone.
  coturn: { users: ['turnserver'], groups: ['turnserver'] },
  // docker compose reads .env as root; the containers get the values as environment.
  'jitsi (docker compose)': { users: [], groups: [], runsAsRoot: true },
  // Debian's redis-server: user and group redis, made by the package for it alone.
  redis: { users: ['redis'], groups: ['redis'] },
  // The backup script runs as root (mxplay-backup.service), and so does ssh for borg.
  'backup (root)': { users: [], groups: [], runsAsRoot: true },
};
/** Groups other daemons share: never enough to read a secret by. */
const SHARED_GROUPS = ['nogroup', 'users', 'adm', 'staff', 'daemon', 'www-data', 'docker'];

interface Row { path: string; owner: string; group: string; mode: number; role: string; service: keyof typeof SERVICES }

/** Every secret-bearing file the roles write. A new one must be added here (and pass the rules). */
const EXPECTED: Row[] = [
  { path: '/etc/matrix-synapse/conf.d/database.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse', service: 'synapse' },
  { path: '/etc/matrix-synapse/conf.d/secrets.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse', service: 'synapse' },
  { path: '/etc/matrix-synapse/conf.d/email.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse_email', service: 'synapse' },
  { path: '/etc/matrix-synapse/conf.d/ldap.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse_ldap', service: 'synapse' },
  { path: '/etc/matrix-synapse/conf.d/oidc.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse_oidc', service: 'synapse' },
  { path: '/etc/matrix-synapse/conf.d/turn.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'coturn', service: 'synapse' },
  { path: '/etc/turnserver.conf', owner: 'root', group: 'turnserver', mode: 0o640, role: 'coturn', service: 'coturn' },
  { path: '/srv/jitsi/.env', owner: 'root', group: 'root', mode: 0o600, role: 'jitsi', service: 'jitsi (docker compose)' },
  { path: '/etc/matrix-synapse/conf.d/workers.yaml', owner: 'matrix-synapse', group: 'root', mode: 0o600, role: 'synapse', service: 'synapse' },
  { path: '/etc/redis/mxplay.conf', owner: 'redis', group: 'redis', mode: 0o640, role: 'redis', service: 'redis' },
  { path: '/etc/mxplay-backup/passphrase', owner: 'root', group: 'root', mode: 0o600, role: 'backup', service: 'backup (root)' },
  { path: '/etc/mxplay-backup/id_ed25519', owner: 'root', group: 'root', mode: 0o600, role: 'backup', service: 'backup (root)' },
];

/** Public keys derived from a secret: they differ between the builds, but hold nothing secret. */
const PUBLIC_FROM_SECRETS = ['/etc/mxplay-backup/id_ed25519.pub', '/srv/borg/.ssh/authorized_keys'];

/** Every secret() variable of the roles, and a value for it per build (A, B). */
const SECRET_VARS = [
  'synapse_db_password', 'synapse_registration_shared_secret', 'synapse_macaroon_secret_key', 'synapse_form_secret',
  'synapse_admin_password', 'synapse_email_smtp_pass', 'synapse_ldap_bind_password', 'coturn_shared_secret',
  'jitsi_jicofo_auth_password', 'jitsi_jvb_auth_password', 'synapse_redis_password', 'synapse_worker_replication_secret', 'redis_password',
  'backup_passphrase', 'synapse_oidc_client_secret',
] as const;
/** secret() variables this inventory does not plant, and why (where their files are checked instead). */
const NOT_WRITTEN: Record<string, string> = {
  synapse_ldap_verify_password: 'used only by `mxplay verify` from the control machine, for a test login: no host file holds it',
  proxy_tls_ca_key: 'needs a real CA key pair: its 0600 root file is checked in ca-trust.test.ts',
  synapse_signing_key: 'written only for workers on other hosts: its 0600 matrix-synapse file is checked in synapse-workers.test.ts',
};
const planted = (build: string, name: string) => `Planted${build}x${name.replace(/_/g, 'x')}`;

const ROLES = [
  'postgres', 'synapse', 'synapse_email', 'synapse_ldap', 'synapse_oidc', 'synapse_consent', 'synapse_server_notices', 'coturn',
  'element_web', 'synapse_admin', 'jitsi', 'nginx', 'redis', 'backup_repository', 'backup',
];

/** The same inventory but for its secrets: `build` chooses them. */
async function build(build: 'A' | 'B') {
  const cwd = tempDir();
  const secrets = Object.fromEntries(SECRET_VARS.map((k) => [k, planted(build, k)]));
  const common = {
    mxplay_master_secret: `master-secret-of-build-${build}-0123456789`,
    synapse_server_name: 'example.com',
    synapse_public_baseurl: 'https://matrix.example.com/',
    synapse_listener_resources: ['client', 'federation', 'consent'],
    synapse_admin_user: 'admin',
    synapse_email_notif_from: 'Matrix <noreply@example.com>',
    synapse_email_smtp_user: 'mailer',
    synapse_ldap_uri: 'ldap://ldap.example.com:389',
    synapse_ldap_base: 'ou=people,dc=example,dc=com',
    synapse_ldap_bind_dn: 'cn=synapse,dc=example,dc=com',
    synapse_oidc_idp_id: 'corp',
    synapse_oidc_idp_name: 'Corp SSO',
    synapse_oidc_issuer: 'https://sso.example.com/',
    synapse_oidc_client_id: 'synapse',
    synapse_consent_version: '1.0',
    synapse_consent_policies: { '1.0': '<p>Be nice.</p>' },
    synapse_server_notices_enabled: true,
    synapse_consent_server_notice_content: 'Please accept %(consent_uri)s',
    coturn_realm: 'turn.example.com',
    element_domain: 'element.example.com',
    element_web_version: '1.11.90',
    element_web_tarball: 'https://example.com/element-v1.11.90.tar.gz',
    element_web_sha256: 'ab'.repeat(32),
    synapse_admin_domain: 'admin.example.com',
    synapse_admin_version: '0.10.3',
    synapse_admin_tarball: 'https://example.com/synapse-admin-0.10.3.tar.gz',
    synapse_admin_sha256: 'cd'.repeat(32),
    jitsi_domain: 'meet.example.com',
    proxy_tls_self_signed: true,
    proxy_serve_jitsi: true,
    // a worker on the main's host: the shared workers config holds the replication and Redis secrets
    synapse_workers: [{ name: 'sync1', type: 'generic', serves: ['client_sync'], port: 8083 }],
    // both hosts back up to 'derived' (whose backup_repository role then keeps 'planted''s repository)
    backup_repository_host: 'derived',
  };
  writeTree(cwd, {
    'matrix-org.asc': '-----BEGIN PGP PUBLIC KEY BLOCK-----\nnot a real key\n-----END PGP PUBLIC KEY BLOCK-----\n',
    'site.yml': `- hosts: all\n  roles: [${ROLES.join(', ')}]\n- hosts: all\n  roles: [apache]\n`,
    'inventory/hosts.yml': JSON.stringify({
      all: {
        vars: common,
        hosts: {
          // every secret given, matrix.org's package; and a postgres login role with a password
          planted: {
            ...secrets,
            synapse_package_source: 'matrix.org',
            synapse_matrix_org_keyring: `${cwd}/matrix-org.asc`,
            postgres_users: [{ name: 'other', password: planted(build, 'postgres_users') }],
          },
          // no secret given: all derived from the master secret; Debian's package. The secrets nothing
          // derives are given (synapse_admin_user without synapse_admin_password is refused).
          derived: { synapse_package_source: 'debian', synapse_admin_password: planted(build, 'synapse_admin_password'), synapse_ldap_bind_password: planted(build, 'synapse_ldap_bind_password'), synapse_email_smtp_pass: planted(build, 'synapse_email_smtp_pass'), synapse_oidc_client_secret: planted(build, 'synapse_oidc_client_secret') },
        },
      },
    }),
  });
  const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
  // host → path → what the file would be created as
  const files = new Map<string, Map<string, { content: string; owner: string; group: string; mode: number; role: string }>>();
  for (const w of works) {
    const mine = new Map<string, { content: string; owner: string; group: string; mode: number; role: string }>();
    const resources: { role: string; r: Resource }[] = w.plays.flatMap((p) => [
      ...p.items.map((i) => ({ role: i.role, r: i.resource })),
      ...[...p.handlers.values()].map((r) => ({ role: 'handler', r })),
    ]);
    for (const { role, r } of resources) {
      if (!r.writes?.length) continue;
      const c = r.plan({ kind: 'none' }) as Change | null;
      if (!c || !('script' in c) || !c.script.startsWith('mxp_put') || c.diff?.after == null) continue;
      const m = /^create \((\d{4}) ([^:]+):(.+)\)$/.exec(c.summary);
      if (!m) throw new Error(`${r.type} ${r.id}: cannot read owner and mode from "${c.summary}"`);
      mine.set(r.id, { content: c.diff.after, mode: parseInt(m[1]!, 8), owner: m[2]!, group: m[3]!, role });
    }
    files.set(w.host.name, mine);
  }
  return files;
}

/** What is wrong with a file's owner, group and mode for the service reading it (nothing: []). */
function problems(f: { owner: string; group: string; mode: number }, s: Service): string[] {
  const out: string[] = [];
  if (f.mode & 0o007) out.push('readable by other');
  if (f.mode & 0o7000) out.push('set-id or sticky bits');
  if (f.mode & 0o070) {
    if (SHARED_GROUPS.includes(f.group)) out.push(`group ${f.group} is shared by other daemons`);
    if (!s.groups.includes(f.group)) out.push(`group ${f.group} is not the service's own`);
  }
  if (!['root', ...s.users].includes(f.owner)) out.push(`owner ${f.owner} is not the service's`);
  const canRead = s.runsAsRoot || (s.users.includes(f.owner) && (f.mode & 0o400) !== 0) || (s.groups.includes(f.group) && (f.mode & 0o040) !== 0);
  if (!canRead) out.push('the service cannot read it');
  return out;
}

describe('files holding secrets: private to the service that reads them', async () => {
  const [a, b] = [await build('A'), await build('B')];
  const found: (Row & { host: string })[] = [];
  for (const [host, filesA] of a) {
    for (const [path, fa] of filesA) {
      const fb = b.get(host)!.get(path);
      expect(fb, `${host} ${path} in both builds`).toBeDefined();
      if (fa.content === fb!.content || PUBLIC_FROM_SECRETS.includes(path)) continue;
      const row = EXPECTED.find((r) => r.path === path);
      found.push({ host, path, owner: fa.owner, group: fa.group, mode: fa.mode, role: fa.role, service: row?.service ?? '?' });
    }
  }
  const table = found.map((f) => `${f.host.padEnd(8)} ${f.path.padEnd(44)} ${f.mode.toString(8).padStart(4, '0')} ${f.owner}:${f.group}  [${f.role}]`).join('\n');

  it('SECRET_VARS is every secret() variable of the built-in roles (but those no host file holds)', async () => {
    const path = roleSearchPath();
    const declared: string[] = [];
    for (const name of availableRoles(path)) {
      for (const v of describeVars((await loadRole(name, path)).def.vars)) if (v.secret && v.path === v.name && !declared.includes(v.name)) declared.push(v.name);
    }
    expect(declared.filter((v) => !(v in NOT_WRITTEN)).sort()).toEqual([...SECRET_VARS].sort());
  });

  it('the list of secret-bearing files (printed) is exactly the expected table, on both hosts', () => {
    console.log(`secret-bearing files:\n${table}`);
    for (const host of ['planted', 'derived']) {
      const got = found.filter((f) => f.host === host).map(({ path, owner, group, mode, role }) => ({ path, owner, group, mode, role }));
      const want = EXPECTED.map(({ path, owner, group, mode, role }) => ({ path, owner, group, mode, role }));
      expect(got.sort((x, y) => x.path.localeCompare(y.path)), `${host}: a secret-bearing file not in EXPECTED, or changed:\n${table}`)
        .toEqual(want.sort((x, y) => x.path.localeCompare(y.path)));
    }
  });

  it('planted secrets are found where they belong (the detection sees them)', () => {
    const at = (path: string) => a.get('planted')!.get(path)!.content;
    expect(at('/etc/matrix-synapse/conf.d/database.yaml')).toContain(planted('A', 'synapse_db_password'));
    expect(at('/etc/matrix-synapse/conf.d/secrets.yaml')).toContain(planted('A', 'synapse_registration_shared_secret'));
    expect(at('/etc/matrix-synapse/conf.d/email.yaml')).toContain(planted('A', 'synapse_email_smtp_pass'));
    expect(at('/etc/matrix-synapse/conf.d/ldap.yaml')).toContain(planted('A', 'synapse_ldap_bind_password'));
    expect(at('/etc/matrix-synapse/conf.d/turn.yaml')).toContain(planted('A', 'coturn_shared_secret'));
    expect(at('/etc/turnserver.conf')).toContain(planted('A', 'coturn_shared_secret'));
    expect(at('/srv/jitsi/.env')).toContain(planted('A', 'jitsi_jvb_auth_password'));
    expect(at('/etc/matrix-synapse/conf.d/workers.yaml')).toContain(planted('A', 'synapse_worker_replication_secret'));
    expect(at('/etc/matrix-synapse/conf.d/workers.yaml')).toContain(planted('A', 'synapse_redis_password'));
    expect(at('/etc/mxplay-backup/passphrase')).toBe(planted('A', 'backup_passphrase'));
    // no planted value in any file outside the table
    for (const [host, files] of a) {
      for (const [path, f] of files) {
        if (EXPECTED.some((r) => r.path === path)) continue;
        expect(f.content, `${host} ${path}`).not.toMatch(/PlantedA/);
      }
    }
  });

  it.each(EXPECTED)('$path ($role): no access for others or shared groups; only $service can read it', (row) => {
    const on = found.filter((x) => x.path === row.path);
    expect(on).toHaveLength(2);
    for (const f of on) expect(problems(f, SERVICES[row.service]!), `${f.host} ${f.path}`).toEqual([]);
  });

  it('the rules reject what the roles wrote before: 0640 root:nogroup, and other mistakes', () => {
    const at = (owner: string, group: string, mode: number) => ({ path: '/x', owner, group, mode });
    expect(problems(at('root', 'nogroup', 0o640), SERVICES.synapse!)).toEqual([
      'group nogroup is shared by other daemons', "group nogroup is not the service's own", 'the service cannot read it',
    ]);
    expect(problems(at('matrix-synapse', 'nogroup', 0o640), SERVICES.synapse!)).toEqual([
      'group nogroup is shared by other daemons', "group nogroup is not the service's own",
    ]);
    expect(problems(at('matrix-synapse', 'root', 0o604), SERVICES.synapse!)).toEqual(['readable by other']);
    expect(problems(at('www-data', 'root', 0o600), SERVICES.synapse!)).toEqual(["owner www-data is not the service's", 'the service cannot read it']);
    expect(problems(at('root', 'turnserver', 0o600), SERVICES.coturn!)).toEqual(['the service cannot read it']);
  });
});
