// The synapse_ldap role on a fresh host: Synapse (Debian's package, on PostgreSQL) authenticates
// users against a real slapd on a second lab host, in search mode (bind_dn + bind_password).
// slapd and its users are test setup (debconf preseed + ldapadd over SSH), not part of the role.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, labCa } from '../lab/ca.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const MASTER = 'e2e-master-secret-0123456789';
const LDAP_ADMIN_PW = 'e2e-ldap-admin-pw-7';
const ALICE_PW = 'alice-ldap-pw-1';
const BOB_PW = 'bob-ldap-pw-2';
const SERVER = 'ldap1.lab.test';
const FRAGMENT = '/etc/matrix-synapse/conf.d/ldap.yaml';

/** slapd for dc=lab,dc=test with ou=people holding alice and bob (plain userPassword). */
const SLAPD_SETUP = `set -e
export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean false
slapd slapd/domain string lab.test
slapd shared/organization string Lab
slapd slapd/password1 password ${LDAP_ADMIN_PW}
slapd slapd/password2 password ${LDAP_ADMIN_PW}
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
EOF
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install slapd ldap-utils >/dev/null
systemctl is-active slapd
ldapadd -x -H ldap://127.0.0.1 -D cn=admin,dc=lab,dc=test -w '${LDAP_ADMIN_PW}' <<'EOF'
dn: ou=people,dc=lab,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=lab,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@lab.test
userPassword: ${ALICE_PW}

dn: uid=bob,ou=people,dc=lab,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@lab.test
userPassword: ${BOB_PW}
EOF
ldapwhoami -x -H ldap://127.0.0.1 -D uid=alice,ou=people,dc=lab,dc=test -w '${ALICE_PW}'
`;

describe('synapse_ldap role: LDAP users of a real slapd log in to Synapse', () => {
  let lab: LabFixture;
  let project: string;
  const base = () => `http://${lab.host('ldap1').ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  let inventoryVars: Record<string, unknown>;

  beforeAll(async () => {
    lab = await labHosts(['ldap1', 'ldapsrv']);
    const slapd = await lab.ssh('ldapsrv', SLAPD_SETUP);
    expect(slapd.code, slapd.stdout + slapd.stderr).toBe(0);
    expect(slapd.stdout).toContain('dn:uid=alice,ou=people,dc=lab,dc=test');

    project = await projectDir('ldap');
    inventoryVars = {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_server_name: SERVER,
      synapse_public_baseurl: `https://${SERVER}/`,
      synapse_bind_addresses: ['0.0.0.0'],
      // Accounts come from the directory: nobody registers on Synapse itself.
      synapse_registration: 'closed',
      synapse_ldap_uri: 'ldap://ldapsrv:389',
      synapse_ldap_start_tls: false,
      synapse_ldap_base: 'ou=people,dc=lab,dc=test',
      synapse_ldap_attributes: { uid: 'uid', mail: 'mail', name: 'cn' },
      synapse_ldap_bind_dn: 'cn=admin,dc=lab,dc=test',
      synapse_ldap_bind_password: LDAP_ADMIN_PW,
      synapse_ldap_filter: '(objectClass=inetOrgPerson)',
      // Behind nginx, for mxplay verify's login as a directory user.
      proxy_tls_self_signed: true,
      synapse_ldap_verify_user: 'bob',
      synapse_ldap_verify_password: BOB_PW,
      mxplay_verify_resolve: 'inventory',
      mxplay_verify_ca_file: join(project, 'ldap1-ca.crt'),
      // The tests' logins all come from this machine: more than Synapse's default 5 at once.
      synapse_rc_login: { address: { per_second: 1, burst_count: 50 }, failed_attempts: { per_second: 1, burst_count: 50 } },
    };
    await lab.writeInventory(join(project, 'inventory', 'e2e'), inventoryVars, { matrix: ['ldap1'] });
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [postgres, synapse, synapse_ldap, nginx]\n');
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('converges postgres, synapse and synapse_ldap; the fragment owns modules:, is 0600 matrix-synapse', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'ldap1')).toBeGreaterThan(10);
    expect(r.stdout + r.stderr).not.toContain(LDAP_ADMIN_PW);
    const ldap = r.json!.hosts.find((p) => p.host === 'ldap1')!.changes.find((c) => c.id === FRAGMENT);
    expect(ldap, 'ldap fragment in the plan').toBeDefined();
    expect((ldap as unknown as { role: string }).role).toBe('synapse_ldap');

    const st = await lab.ssh('ldap1', `stat -c '%a %U:%G' ${FRAGMENT} && cat ${FRAGMENT}; dpkg-query -W -f '\${Status}\\n' matrix-synapse-ldap3 python3-pkg-resources`);
    expect(st.stdout).toContain('600 matrix-synapse:root');
    expect(st.stdout).toContain('role synapse_ldap: owns modules');
    expect(st.stdout).toContain('module: ldap_auth_provider.LdapAuthProviderModule');
    expect(st.stdout).toContain('uri: ldap://ldapsrv:389');
    expect(st.stdout).toContain(`bind_password: ${LDAP_ADMIN_PW}`);
    expect(st.stdout).not.toContain('password_config');
    expect(st.stdout.match(/install ok installed/g)).toHaveLength(2);
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);
    await writeFile(join(project, 'ldap1-ca.crt'), (await lab.ssh('ldap1', 'cat /etc/ssl/mxplay-selfsigned/ca.crt')).stdout);
  });

  it('an LDAP user logs in (200, @alice:server, display name from cn); a wrong password is refused (403)', async () => {
    const ok = await login(base(), 'alice', ALICE_PW);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.user_id).toBe(`@alice:${SERVER}`);
    expect(ok.json.access_token).toBeTruthy();
    const profile = await api(base(), `/_matrix/client/v3/profile/${encodeURIComponent(`@alice:${SERVER}`)}`, { token: ok.json.access_token });
    expect(profile.status, profile.text).toBe(200);
    expect(profile.json.displayname).toBe('Alice Liddell');

    const bob = await login(base(), 'bob', BOB_PW);
    expect(bob.status, bob.text).toBe(200);
    expect(bob.json.user_id).toBe(`@bob:${SERVER}`);

    const wrong = await login(base(), 'alice', 'not-alices-password');
    expect(wrong.status, wrong.text).toBe(403);
    expect(wrong.json.errcode).toBe('M_FORBIDDEN');
    const nobody = await login(base(), 'mallory', 'whatever-pw-1');
    expect(nobody.status, nobody.text).toBe(403);
  });

  it('closed registration: Synapse refuses every sign-up, with or without a flow', async () => {
    const r = await api(base(), '/_matrix/client/v3/register', { body: { username: 'mallory', password: 'e2e-user-password-1' } });
    expect(r.status, r.text).toBe(403);
    expect(r.json.errcode).toBe('M_FORBIDDEN');
    expect(r.json.access_token).toBeUndefined();
    const avail = await api(base(), '/_matrix/client/v3/register?kind=user', { body: { username: 'mallory', password: 'e2e-user-password-1', auth: { type: 'm.login.dummy' } } });
    expect(avail.status, avail.text).toBe(403);
  });

  it('mxplay verify logs the directory user in through the proxy, and reports a refused login with Synapse\'s words', async () => {
    const verify = (...e: string[]) => mxplay(['verify', 'site.yml', '-i', 'e2e', '-t', 'synapse_ldap', ...e], { cwd: project });
    const ok = await verify();
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`OK +LDAP login through the client API +https://${SERVER.replaceAll('.', '\\.')}/ as bob\\s+(→ )?logged in as @bob:${SERVER.replaceAll('.', '\\.')} \\(and out\\)`));
    expect(ok.stdout + ok.stderr).not.toContain(BOB_PW);
    // The password in the directory changed, not in the inventory: what a user would meet.
    const pw = await lab.ssh('ldapsrv', `ldappasswd -x -H ldap://127.0.0.1 -D cn=admin,dc=lab,dc=test -w '${LDAP_ADMIN_PW}' -s 'bob-new-pw-3' uid=bob,ou=people,dc=lab,dc=test`);
    expect(pw.code, pw.stderr).toBe(0);
    try {
      const refused = await verify();
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(/FAILED +LDAP login through the client API .*\s+(→ )?login as bob refused: HTTP 403, M_FORBIDDEN: /);
      expect(refused.stdout + refused.stderr).not.toContain(BOB_PW);
    } finally {
      await lab.ssh('ldapsrv', `ldappasswd -x -H ldap://127.0.0.1 -D cn=admin,dc=lab,dc=test -w '${LDAP_ADMIN_PW}' -s '${BOB_PW}' uid=bob,ou=people,dc=lab,dc=test`);
    }
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'ldap1')).toBe(0);
  });

  it('StartTLS to a slapd that requires TLS (lab-CA certificate), in simple-bind mode (no bind_dn): LDAP users log in; a second run changes nothing', async () => {
    const cert = await issueCertificate(['ldapsrv.lab.test']);
    const tls = await lab.ssh('ldapsrv', `set -e
mkdir -p /etc/ldap/tls
cat > /etc/ldap/tls/ldap.crt <<'CRTEOF'
${cert.certPem}CRTEOF
cat > /etc/ldap/tls/ldap.key <<'KEYEOF'
${cert.keyPem}KEYEOF
chown -R openldap:openldap /etc/ldap/tls && chmod 0600 /etc/ldap/tls/ldap.key
ldapmodify -Q -Y EXTERNAL -H ldapi:/// <<'LDIFEOF'
dn: cn=config
changetype: modify
replace: olcTLSCertificateFile
olcTLSCertificateFile: /etc/ldap/tls/ldap.crt
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: /etc/ldap/tls/ldap.key
-
replace: olcSecurity
olcSecurity: ssf=1
LDIFEOF
# A bind in the clear (security strength 0) is refused now; StartTLS (and ldapi, for the admin) get in.
if ldapwhoami -x -H ldap://127.0.0.1 -D uid=alice,ou=people,dc=lab,dc=test -w '${ALICE_PW}' 2>/dev/null; then echo 'clear bind accepted' >&2; exit 1; fi`);
    expect(tls.code, tls.stdout + tls.stderr).toBe(0);
    try {
      await startTlsSimpleBind();
    } finally {
      // The next tests bind in the clear, as before (slapd keeps the old strength when the attribute
      // is only deleted: it is set back to 0).
      const clear = await lab.ssh('ldapsrv', `ldapmodify -Q -Y EXTERNAL -H ldapi:/// <<'LDIFEOF'
dn: cn=config
changetype: modify
replace: olcSecurity
olcSecurity: ssf=0
LDIFEOF
ldapwhoami -x -H ldap://127.0.0.1 -D uid=alice,ou=people,dc=lab,dc=test -w '${ALICE_PW}'`);
      expect(clear.code, clear.stderr).toBe(0);
    }
  });

  async function startTlsSimpleBind() {
    const { synapse_ldap_bind_dn: _dn, synapse_ldap_bind_password: _pw, ...simple } = inventoryVars;
    await lab.writeInventory(join(project, 'inventory', 'simple'), {
      ...simple,
      synapse_ldap_uri: 'ldap://ldapsrv.lab.test:389',
      synapse_ldap_start_tls: true,
      ca_trust_certificates: { 'mxplay-lab': (await labCa()).certPem },
    }, { matrix: ['ldap1'] });
    await writeFile(join(project, 'site-tls.yml'), '- hosts: matrix\n  roles: [ca_trust, postgres, synapse, synapse_ldap, nginx]\n');
    const runTls = () => mxplay(['run', 'site-tls.yml', '-i', 'simple', '--yes', '--json'], { cwd: project });
    const r = await runTls();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const frag = await lab.ssh('ldap1', `cat ${FRAGMENT}`);
    expect(frag.stdout).toContain('start_tls: true');
    expect(frag.stdout).not.toContain('bind_dn');

    // Simple-bind mode: Synapse binds as uid=alice,<base> with her own password, over StartTLS.
    const ok = await login(base(), 'alice', ALICE_PW);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.user_id).toBe(`@alice:${SERVER}`);
    const wrong = await login(base(), 'bob', 'not-bobs-password');
    expect(wrong.status, wrong.text).toBe(403);
    const again = await runTls();
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'ldap1')).toBe(0);
  }

  it('synapse_ldap_enabled false removes the fragment, restarts Synapse, and the LDAP user can no longer log in', async () => {
    const pidBefore = (await lab.ssh('ldap1', 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
    const r = await run('--yes', '--json', '-e', 'synapse_ldap_enabled=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'ldap1')!.changes;
    expect(changes.map((c) => [c.action, c.id])).toEqual([['-', FRAGMENT]]);
    const res = r.json!.results.find((x) => x.host === 'ldap1') as unknown as { changed: number; handlers: string[] };
    expect(res.changed).toBe(1);
    expect(res.handlers).toEqual(['restart synapse if its config changed']);

    const gone = await lab.ssh('ldap1', `test -e ${FRAGMENT} && echo present || echo absent; systemctl show -p MainPID --value matrix-synapse; systemctl is-active matrix-synapse`);
    const [state, pid, active] = gone.stdout.split('\n');
    expect(state).toBe('absent');
    expect(pid).not.toBe(pidBefore);
    expect(active).toBe('active');
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);

    // alice exists in Synapse now (created at her first login) but has no local password.
    const refused = await login(base(), 'alice', ALICE_PW);
    expect(refused.status, refused.text).toBe(403);
    // slapd still accepts her: it is Synapse that no longer asks it.
    const who = await lab.ssh('ldapsrv', `ldapwhoami -x -H ldap://127.0.0.1 -D uid=alice,ou=people,dc=lab,dc=test -w '${ALICE_PW}'`);
    expect(who.code, who.stderr).toBe(0);

    const again = await run('--yes', '--json', '-e', 'synapse_ldap_enabled=false');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'ldap1')).toBe(0);
  });
});
