// Synapse from Debian's apt on PostgreSQL, converged by `mxplay run` with the repository's
// playbooks/site.yml on fresh lab hosts and checked from the control machine over HTTP, as a Matrix
// client would. The same hosts are described twice, as a YAML inventory folder and as one INI file
// (a host range, Python-literal values, Jinja vars): both plan exactly the same changes on the bare
// hosts, the first run converges through the INI inventory, and the YAML one then finds nothing to do.
import { execFileSync } from 'node:child_process';
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, eventually, login } from './helpers/matrix.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MASTER = 'e2e-master-secret-0123456789';

describe('synapse and postgres roles on two fresh hosts', () => {
  let lab: LabFixture;
  let project: string;
  const base = (h: string) => `http://${lab.host(h).ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  /** The same run through inventory/ini.ini, the INI twin of inventory/e2e/. */
  const runIni = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'ini', ...args], { cwd: project });
  /** Per host, the plan as --json gives it: each change (action, type, id, role, summary, diff, the whole file texts), pending handlers. */
  const plans = (r: CliResult) => Object.fromEntries(r.json!.hosts.map(({ host, ...plan }) => [host, plan]));

  beforeAll(async () => {
    lab = await labHosts(['syn1', 'syn2']);
    project = await projectDir('synapse');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_admin_user: 'admin',
      synapse_admin_password: ADMIN_PASSWORD,
      // Reached from the control machine directly here; the proxy roles have their own tests.
      synapse_bind_addresses: ['0.0.0.0'],
    }, { matrix: ['syn1', 'syn2'] });
    // One inventory, per-host server names.
    await mkdir(join(project, 'inventory', 'e2e', 'host_vars'));
    await writeFile(join(project, 'inventory', 'e2e', 'host_vars', 'syn1.yml'), 'synapse_server_name: one.lab.test\nsynapse_public_baseurl: https://one.lab.test/\n');
    await writeFile(join(project, 'inventory', 'e2e', 'host_vars', 'syn2.yml'), 'synapse_server_name: two.lab.test\nsynapse_public_baseurl: https://two.lab.test/\n');
    // The repository's own playbook (these hosts are only in its first play's group, matrix).
    await copyFile(new URL('../../playbooks/site.yml', import.meta.url), join(project, 'site.yml'));
    // The same hosts, groups and values as inventory/e2e/ above, as an Ansible INI file: the hosts'
    // addresses on lines of their own, the group as a range, the per-host names made by Jinja from
    // inventory_hostname instead of host_vars files, a list as a Python literal.
    await writeFile(join(project, 'inventory', 'ini.ini'), [
      '# the INI twin of inventory/e2e/',
      ...['syn1', 'syn2'].map((h) => `${h} ansible_host=${lab.host(h).ip}`),
      '',
      '[matrix]',
      'syn[1:2]',
      '',
      '[matrix:vars]',
      "synapse_server_name={{ {'syn1': 'one', 'syn2': 'two'}[inventory_hostname] }}.lab.test",
      "synapse_public_baseurl={{ 'https://' ~ synapse_server_name ~ '/' }}",
      '',
      '[all:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${lab.keyFile}`,
      `mxplay_known_hosts_file=${lab.knownHostsFile}`,
      `mxplay_master_secret=${MASTER}`,
      'synapse_package_source=debian',
      'synapse_admin_user=admin',
      `synapse_admin_password=${ADMIN_PASSWORD}`,
      "synapse_bind_addresses=['0.0.0.0']",
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('--check on bare hosts lists every change with diffs, secrets masked, and changes nothing', async () => {
    const r = await run('--check', '--detailed-exitcode');
    expect(r.code, r.stderr + r.stdout).toBe(2);
    for (const line of [
      '+ apt postgresql',
      '+ debconf matrix-synapse/matrix-synapse/server-name',
      '+ apt matrix-synapse,python3-psycopg2',
      '? service matrix-synapse',
      '+ yaml /etc/matrix-synapse/conf.d/listeners.yaml',
      // owned by the package's user: known once the package has made it
      '? yaml /etc/matrix-synapse/conf.d/database.yaml',
    ]) expect(r.stdout).toContain(line);
    expect(r.stdout).toContain('+server_name: one.lab.test');
    expect(r.stdout).toContain('+server_name: two.lab.test');
    expect(r.stdout).toMatch(/\? yaml \/etc\/matrix-synapse\/conf\.d\/secrets\.yaml .*user matrix-synapse does not exist yet; known after apt matrix-synapse/);
    expect(r.stdout).not.toContain(ADMIN_PASSWORD);
    expect(r.stdout).not.toContain(MASTER);
    const untouched = await lab.ssh('syn1', 'test ! -e /etc/matrix-synapse && ! dpkg -s postgresql >/dev/null 2>&1');
    expect(untouched.code).toBe(0);
  });

  it('the INI inventory (range, Python literals, Jinja vars) plans exactly what the YAML one plans for site.yml on the bare hosts', async () => {
    const [yaml, ini] = await Promise.all([run('--check', '--json'), runIni('--check', '--json')]);
    expect(yaml.code, yaml.stdout + yaml.stderr).toBe(0);
    expect(ini.code, ini.stdout + ini.stderr).toBe(0);
    // Every change of every host: action, type, id, role, summary and diff (masked alike).
    expect(plans(ini)).toEqual(plans(yaml));
    const syn1 = JSON.stringify(plans(ini).syn1);
    expect(plans(ini).syn1!.changes.length).toBeGreaterThan(10);
    expect(syn1).toContain('server_name: one.lab.test');
    expect(syn1).toContain('public_baseurl: https://one.lab.test/');
    expect(JSON.stringify(plans(ini).syn2)).toContain('server_name: two.lab.test');
  });

  it('converges both hosts in parallel through the INI inventory: Synapse on PostgreSQL answers and the admin can log in; the YAML inventory then plans nothing', async () => {
    const r = await runIni('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'syn1')).toBeGreaterThan(10);
    expect(changedOf(r, 'syn2')).toBeGreaterThan(10);
    // Exactly as through the YAML inventory: it finds nothing left to change.
    const yaml = await run('--check', '--detailed-exitcode', '--json');
    expect(yaml.code, yaml.stdout + yaml.stderr).toBe(0);
    expect(yaml.json!.hosts.flatMap((p) => p.changes)).toEqual([]);

    for (const [h, server] of [['syn1', 'one.lab.test'], ['syn2', 'two.lab.test']] as const) {
      const versions = await api(base(h), '/_matrix/client/versions');
      expect(versions.status).toBe(200);
      expect(versions.json.versions).toContain('v1.1');

      const ok = await login(base(h), 'admin', ADMIN_PASSWORD);
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json.user_id).toBe(`@admin:${server}`);
      const bad = await login(base(h), 'admin', 'wrong-password');
      expect(bad.status).toBe(403);

      // The user really lives in PostgreSQL, in a UTF8 / C-collated database.
      const db = await lab.ssh(h, `runuser -u postgres -- psql -XAt -d synapse -c "SELECT name FROM users" -c "SELECT pg_encoding_to_char(encoding)||' '||datcollate||' '||datctype FROM pg_database WHERE datname='synapse'"`);
      expect(db.stdout).toContain(`@admin:${server}`);
      expect(db.stdout).toContain('UTF8 C C');
    }
  });

  it('a second run reports 0 changed on both hosts', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'syn1')).toBe(0);
    expect(changedOf(r, 'syn2')).toBe(0);

    // Files holding secrets, and the signing key, are Synapse's user's alone (not group nogroup,
    // which other daemons share); the apply's backups are root's alone.
    const st = await lab.ssh('syn1', [
      `stat -c '%n %a %U:%G' /etc/matrix-synapse/conf.d/database.yaml /etc/matrix-synapse/conf.d/secrets.yaml /etc/matrix-synapse/homeserver.signing.key`,
      `stat -c '%n %a %U:%G' /var/lib/mxplay/backup`,
      'find /var/lib/mxplay/backup -perm /077 | wc -l',
    ].join('; '));
    expect(st.stdout.trim().split('\n')).toEqual([
      '/etc/matrix-synapse/conf.d/database.yaml 600 matrix-synapse:root',
      '/etc/matrix-synapse/conf.d/secrets.yaml 600 matrix-synapse:root',
      '/etc/matrix-synapse/homeserver.signing.key 600 matrix-synapse:nogroup',
      '/var/lib/mxplay/backup 700 root:root',
      '0',
    ]);
  });

  it('the master secret vaulted derives the same secrets (nothing to change); a wrong vault password stops before any host', async () => {
    const right = join(project, 'vault-pass');
    const wrong = join(project, 'wrong-pass');
    await writeFile(right, 'e2e-vault-password\n', { mode: 0o600 });
    await writeFile(wrong, 'not-the-vault-password\n', { mode: 0o600 });
    // Encrypted by Debian's ansible-vault (installed by the tools step), as an Ansible user does it.
    const [, ...body] = execFileSync('ansible-vault', ['encrypt_string', '--vault-password-file', right, '--stdin-name', 'mxplay_master_secret'], { input: MASTER, encoding: 'utf8' }).trimEnd().split('\n');
    await writeFile(join(project, 'vaulted.yml'), `mxplay_master_secret: !vault |\n${body.map((l) => `  ${l.trim()}`).join('\n')}\n`);

    const same = await run('--check', '--detailed-exitcode', '--json', '-e', '@vaulted.yml', '--vault-password-file', right);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.json!.hosts.flatMap((p) => p.changes)).toEqual([]);

    const bad = await run('--check', '-e', '@vaulted.yml', '--vault-password-file', wrong);
    expect(bad.code).toBe(1);
    // An input error: said before the run reads any host (nothing is planned, no host is named).
    expect(bad.stderr).toMatch(/^error: vaulted\.yml:1: Ansible Vault: .*wrong vault password/);
    expect(bad.stdout).toBe('');
  });

  it('changing max upload size changes one fragment, restarts Synapse once, and Synapse serves it', async () => {
    const pidBefore = (await lab.ssh('syn1', 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
    const r = await run('--yes', '--json', '--limit', 'syn1', '-e', 'synapse_max_upload_size=100M');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'syn1')!.changes;
    expect(changes.map((c) => c.id)).toEqual(['/etc/matrix-synapse/conf.d/media.yaml']);
    expect(changes[0]!.after).toContain('max_upload_size: 100M');
    const res = r.json!.results.find((x) => x.host === 'syn1') as unknown as { changed: number; handlers: string[] };
    expect(res.changed).toBe(1);
    expect(res.handlers).toEqual(['restart synapse if its config changed']);
    const pidAfter = (await lab.ssh('syn1', 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
    expect(pidAfter).not.toBe(pidBefore);

    const token = (await login(base('syn1'), 'admin', ADMIN_PASSWORD)).json.access_token;
    const config = await api(base('syn1'), '/_matrix/client/v1/media/config', { token });
    expect(config.status, config.text).toBe(200);
    expect(config.json['m.upload.size']).toBe(100 * 1024 * 1024);
  });

  it('a value Synapse rejects fails its own check: the old config stays and Synapse keeps serving', async () => {
    const pidBefore = (await lab.ssh('syn1', 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
    const vars = join(project, 'bad.yml');
    await writeFile(vars, 'synapse_max_upload_size: 100M\nsynapse_url_previews: true\nsynapse_url_preview_ip_range_blacklist: ["not-an-ip-range"]\n');
    const r = await run('--yes', '--json', '--limit', 'syn1', '-e', `@${vars}`);
    expect(r.code).toBe(1);
    const res = r.json!.results.find((x) => x.host === 'syn1')!;
    expect(res.status).toBe('failed');
    expect(res.message).toMatch(/validation failed/);
    expect(res.message).toMatch(/url_preview_ip_range_blacklist|not-an-ip-range/);
    expect(res.message).toMatch(/previous files were restored; nothing was restarted/);

    const state = await lab.ssh('syn1', 'test -e /etc/matrix-synapse/conf.d/url_previews.yaml && echo present || echo absent; systemctl show -p MainPID --value matrix-synapse');
    expect(state.stdout.split('\n')[0]).toBe('absent');
    expect(state.stdout.split('\n')[1]).toBe(pidBefore);
    expect((await api(base('syn1'), '/_matrix/client/versions')).status).toBe(200);

    // And the next good run has nothing left over to do.
    const again = await run('--yes', '--json', '--limit', 'syn1', '-e', 'synapse_max_upload_size=100M');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'syn1')).toBe(0);
  });

  it('a rolling restart (serial 1, max_fail_percentage 0) stops at a host whose config Synapse rejects; the next host is not touched', async () => {
    const show = async (h: string) => {
      const r = await lab.ssh(h, 'systemctl show -p MainPID -p ActiveEnterTimestampMonotonic -p ExecMainStartTimestampMonotonic matrix-synapse; cat /etc/matrix-synapse/conf.d/media.yaml');
      const prop = (k: string) => new RegExp(`^${k}=(\\d+)$`, 'm').exec(r.stdout)![1]!;
      return { pid: prop('MainPID'), readyAt: BigInt(prop('ActiveEnterTimestampMonotonic')), startedAt: BigInt(prop('ExecMainStartTimestampMonotonic')), media: r.stdout.slice(r.stdout.indexOf('# managed')) };
    };
    await writeFile(join(project, 'rolling.yml'), '- name: rolling upgrade\n  hosts: matrix\n  serial: 1\n  max_fail_percentage: 0\n  roles: [postgres, synapse]\n');
    const rolling = () => mxplay(['run', 'rolling.yml', '-i', 'e2e', '--yes', '-e', 'synapse_max_upload_size=200M'], { cwd: project });
    const syn1Vars = join(project, 'inventory', 'e2e', 'host_vars', 'syn1.yml');
    const good = await readFile(syn1Vars, 'utf8');
    const [one, two] = [await show('syn1'), await show('syn2')];

    // syn1, first in the inventory, is the first batch: its config fails Synapse's own check.
    await writeFile(syn1Vars, `${good}synapse_url_previews: true\nsynapse_url_preview_ip_range_blacklist: ["not-an-ip-range"]\n`);
    try {
      const r = await rolling();
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^syn1 failed:\n {2}validation failed/m);
      expect(r.stdout).toMatch(/^ {2}syn2\s+ok=\d+\s+changed=0\s+failed=0\s+unreachable=0\s+skipped=1/m);
      expect(r.stdout).toContain('syn2 skipped:\n  not run: the run stopped after 1 of 1 host of a batch of "rolling upgrade" failed (max_fail_percentage 0)');
      expect(r.stderr).not.toMatch(/^\[syn2\] (applying|~|\+)/m);
    } finally {
      await writeFile(syn1Vars, good);
    }
    // syn1 kept its old config and its Synapse; syn2 was never touched.
    expect(await show('syn1')).toEqual(one);
    expect(await show('syn2')).toEqual(two);
    expect((await api(base('syn1'), '/_matrix/client/versions')).status).toBe(200);

    // Fixed, the same run goes host by host: syn2 restarts only once syn1's Synapse is back up.
    const r = await rolling();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [one2, two2] = [await show('syn1'), await show('syn2')];
    expect(one2.media).toContain('max_upload_size: 200M');
    expect(two2.media).toContain('max_upload_size: 200M');
    expect(one2.pid).not.toBe(one.pid);
    expect(two2.pid).not.toBe(two.pid);
    expect(one2.readyAt).toBeLessThan(two2.startedAt);
  });
  it('production settings on syn2: the password policy answers a client, media lands in the store path, local passwords can be switched off; a second run changes nothing', async () => {
    const prod = join(project, 'prod-syn2.yml');
    const settings = {
      synapse_password_policy: { minimum_length: 16, require_digit: true },
      synapse_media_store_path: '/srv/synapse-media-e2e',
      synapse_presence: false,
      synapse_mau_limit: 50,
    };
    await writeFile(prod, stringify(settings));
    const r = await run('--yes', '--json', '--limit', 'syn2', '-e', `@${prod}`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const base2 = base('syn2');
    const token = (await eventually(async () => {
      const l = await login(base2, 'admin', ADMIN_PASSWORD);
      if (l.status !== 200) throw new Error(l.text);
      return l;
    })).json.access_token as string;

    // Changing the password: Synapse checks the new one against the policy (before or after the
    // user-interactive auth, depending on the version: both are answered here).
    const change = async (newPassword: string) => {
      const first = await api(base2, '/_matrix/client/v3/account/password', { token, body: { new_password: newPassword, logout_devices: false } });
      if (first.status !== 401) return first;
      return api(base2, '/_matrix/client/v3/account/password', { token, body: {
        new_password: newPassword, logout_devices: false,
        auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'admin' }, password: ADMIN_PASSWORD, session: first.json.session },
      } });
    };
    const short = await change('short-pw-1');
    expect([short.status, short.json?.errcode], short.text).toEqual([400, 'M_PASSWORD_TOO_SHORT']);
    const noDigit = await change('long-enough-but-no-digits');
    expect([noDigit.status, noDigit.json?.errcode], noDigit.text).toEqual([400, 'M_PASSWORD_NO_DIGIT']);

    // An upload is stored under synapse_media_store_path and served back as it was sent.
    const body = `media-e2e ${Date.now()}`;
    const up = await fetch(`${base2}/_matrix/media/v3/upload?filename=e2e.txt`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body });
    expect(up.status).toBe(200);
    const mxc = ((await up.json()) as { content_uri: string }).content_uri;
    const mediaId = mxc.split('/').pop()!;
    const stored = await lab.ssh('syn2', `find /srv/synapse-media-e2e/local_content -type f -newer /etc/matrix-synapse/conf.d/media.yaml | xargs cat`);
    expect(stored.stdout).toBe(body);
    const down = await fetch(`${base2}/_matrix/client/v1/media/download/two.lab.test/${mediaId}`, { headers: { authorization: `Bearer ${token}` } });
    expect([down.status, await down.text()]).toEqual([200, body]);

    // Presence off and a MAU limit: Synapse's own settings, as written (their effect needs more
    // users and time than a lab run has; the unit tests check the fragments).
    const conf = await lab.ssh('syn2', 'cat /etc/matrix-synapse/conf.d/server.yaml /etc/matrix-synapse/conf.d/mau_limit.yaml');
    expect(conf.stdout).toMatch(/^ {2}enabled: false$/m);
    expect(conf.stdout).toMatch(/^max_mau_value: 50$/m);

    const again = await run('--yes', '--json', '--limit', 'syn2', '-e', `@${prod}`);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'syn2')).toBe(0);

    // Local passwords off (an LDAP set-up's choice): the admin's password no longer logs in.
    const off = await run('--yes', '--json', '--limit', 'syn2', '-e', `@${prod}`, '-e', 'synapse_password_localdb_enabled=false');
    expect(off.code, off.stdout + off.stderr).toBe(0);
    // Synapse no longer offers password logins at all (no other provider here), and refuses one.
    const flows = await api(base2, '/_matrix/client/v3/login');
    expect((flows.json.flows as { type: string }[]).map((f) => f.type)).not.toContain('m.login.password');
    const refused = await login(base2, 'admin', ADMIN_PASSWORD);
    expect([refused.status, refused.json?.errcode], refused.text).toEqual([400, 'M_UNKNOWN']);
    expect((await login(base('syn1'), 'admin', ADMIN_PASSWORD)).status).toBe(200); // syn1 untouched
  });
});
