// PostgreSQL on a host of its own, for clients on other hosts (Synapse processes elsewhere): the
// postgres role on a fresh lab host with listen_addresses '*', a login role with a hostile-ish
// password, its database and a pg_hba.conf entry for the other lab host's address. From that host,
// psql gets in with the password and not without it; a second run changes nothing; an entry
// switched to TLS becomes a hostssl line; and an entry removed from the inventory is removed from
// pg_hba.conf (the client is turned away) while the distribution's lines, and one an
// administrator added by hand, stay exactly as they were.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { q } from '../../src/resources/sh.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const DB = 'pgdb';
const CLIENT = 'pgclient';
/** Quotes of both kinds, a backslash, shell and SQL syntax, a #: nothing may read it as syntax. */
const PASSWORD = `pw'"\\ $(touch /tmp/pgx) ;-- #x`;
const BEGIN = '# mxplay: begin of the entries of postgres_hba';
const END = '# mxplay: end of the entries of postgres_hba';

describe('postgres on its own host, reached from another host through postgres_hba', () => {
  let lab: LabFixture;
  let project: string;
  /** pg_hba.conf as the distribution made it (read after the first run, without mxplay's block). */
  let distribution = '';
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  const hbaEntries = (entries: Record<string, unknown>[]) =>
    writeFile(join(project, 'inventory', 'e2e', 'host_vars', `${DB}.yml`), stringify({
      postgres_listen_addresses: '*',
      postgres_users: [{ name: 'synapse', password: PASSWORD }],
      postgres_databases: [{ name: 'synapse', owner: 'synapse' }],
      postgres_hba: entries,
    }));
  /** psql from the client host to the database host; `opts` are more libpq settings. */
  const connect = (password: string, opts = '') =>
    lab.ssh(CLIENT, `PGPASSWORD=${q(password)} PGCONNECT_TIMEOUT=10 psql -X -At ${q(`host=${lab.host(DB).ip} user=synapse dbname=synapse ${opts}`.trim())} -c 'SELECT 1'`);
  const hbaFile = async () => {
    const r = await lab.ssh(DB, `cat "$(runuser -u postgres -- psql -XAt -c 'SHOW hba_file')"`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    lab = await labHosts([DB, CLIENT]);
    project = await projectDir('postgres-remote');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {}, { db: [DB] });
    await mkdir(join(project, 'inventory', 'e2e', 'host_vars'));
    await hbaEntries([{ database: 'synapse', user: 'synapse', address: lab.host(CLIENT).ip }]);
    await writeFile(join(project, 'site.yml'), stringify([{ name: 'database', hosts: 'db', roles: ['postgres'] }]));
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('converges the database host (restarted for listen_addresses, reloaded for pg_hba.conf): the client gets in with the password, not without it', async () => {
    const [r, client] = await Promise.all([
      run('--yes', '--json'),
      // The client host only needs psql.
      lab.ssh(CLIENT, 'apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends postgresql-client >/dev/null'),
    ]);
    expect(client.code, client.stderr).toBe(0);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, DB)).toBeGreaterThan(4);
    const res = r.json!.results.find((x) => x.host === DB)!;
    expect(res.handlers).toEqual(expect.arrayContaining(['restart postgresql', 'reload postgresql']));
    expect(r.stdout).not.toContain(PASSWORD);

    const ok = await connect(PASSWORD);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('1');
    const wrong = await connect('not-the-password');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('password authentication failed for user "synapse"');

    // mxplay's block ends the file; before it, Debian's own lines.
    const text = await hbaFile();
    const line = `host    synapse         synapse         ${`${lab.host(CLIENT).ip}/32`.padEnd(24)}scram-sha-256`;
    expect(text).toMatch(new RegExp(`\\n${BEGIN}[^\\n]*\\n${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n${END}\\n$`));
    distribution = text.slice(0, text.indexOf(BEGIN));
    expect(distribution).toContain('local   all             postgres                                peer');
    expect(distribution).toContain('host    all             all             127.0.0.1/32            scram-sha-256');
    const st = await lab.ssh(DB, `stat -c '%a %U:%G' "$(runuser -u postgres -- psql -XAt -c 'SHOW hba_file')"; ls /tmp/pgx 2>&1`);
    expect(st.stdout).toMatch(/^640 postgres:postgres\n.*No such file/);
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, DB)).toBe(0);
  });

  it('Synapse on the client host keeps its data in the remote database (synapse_db_manage false): no PostgreSQL of its own, its tables on the database host; a second run changes nothing', async () => {
    await writeFile(join(project, 'inventory', 'e2e', 'host_vars', `${CLIENT}.yml`), stringify({
      mxplay_master_secret: 'e2e-master-secret-0123456789',
      synapse_package_source: 'debian',
      synapse_server_name: 'pgclient.lab.test',
      synapse_public_baseurl: 'https://pgclient.lab.test/',
      synapse_bind_addresses: ['0.0.0.0'],
      synapse_admin_user: 'admin',
      synapse_admin_password: 'e2e-admin-password-1',
      synapse_db_host: lab.host(DB).ip,
      synapse_db_port: 5432,
      synapse_db_name: 'synapse',
      synapse_db_user: 'synapse',
      synapse_db_password: PASSWORD,
      synapse_db_manage: false,
    }));
    await writeFile(join(project, 'synapse.yml'), stringify([{ name: 'homeserver', hosts: CLIENT, roles: ['synapse'] }]));
    const synapse = (...args: string[]) => mxplay(['run', 'synapse.yml', '-i', 'e2e', '--yes', '--json', ...args], { cwd: project });
    const r = await synapse();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const base = `http://${lab.host(CLIENT).ip}:8008`;
    const l = await api(base, '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'admin' }, password: 'e2e-admin-password-1' } });
    expect(l.status, l.text).toBe(200);
    // No database server on the Synapse host; the admin's row is in the database host's synapse database.
    const local = await lab.ssh(CLIENT, "dpkg-query -W -f '${db:Status-Status}' postgresql 2>/dev/null | grep -qx installed && echo installed || echo absent; ss -Hltn 'sport = :5432' | wc -l");
    expect(local.stdout.trim().split('\n')).toEqual(['absent', '0']);
    const row = await lab.ssh(DB, `runuser -u postgres -- psql -XAt -d synapse -c "SELECT name FROM users WHERE name = '@admin:pgclient.lab.test'"`);
    expect(row.stdout.trim()).toBe('@admin:pgclient.lab.test');
    const again = await synapse();
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, CLIENT)).toBe(0);
  });

  it('an entry switched to TLS: the plan shows the line changing to hostssl; then only TLS connections get in', async () => {
    await hbaEntries([{ database: 'synapse', user: 'synapse', address: lab.host(CLIENT).ip, tls: true }]);
    const check = await run('--check', '--detailed-exitcode');
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(check.stdout).toMatch(/~ postgres hba pg_hba\.conf +\[postgres\] +add 1 entry, remove 1 entry/);
    expect(check.stdout).toContain(`-host    synapse         synapse         ${lab.host(CLIENT).ip}/32`);
    expect(check.stdout).toContain(`+hostssl synapse         synapse         ${lab.host(CLIENT).ip}/32`);

    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, DB)).toBe(1);
    expect(r.json!.results.find((x) => x.host === DB)!.handlers).toEqual(['reload postgresql']);
    const tls = await connect(PASSWORD, 'sslmode=require');
    expect(tls.code, tls.stderr).toBe(0);
    const plain = await connect(PASSWORD, 'sslmode=disable');
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(`no pg_hba.conf entry for host "${lab.host(CLIENT).ip}"`);
  });

  it('a written pg_hba.conf the server cannot read is restored before any reload (the check of pg_hba_file_rules)', async () => {
    const file = `"$(runuser -u postgres -- psql -XAt -c 'SHOW hba_file')"`;
    // A line broken by hand: every file written with it fails the server's check.
    expect((await lab.ssh(DB, `echo 'host all all 10.1.2.3/99 scram-sha-256' >> ${file}`)).code).toBe(0);
    const broken = await hbaFile();
    await hbaEntries([{ database: 'synapse', user: 'synapse', address: lab.host(CLIENT).ip }]);
    const r = await run('--yes');
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('pg_hba.conf has lines PostgreSQL cannot use:');
    expect(r.stdout + r.stderr).toMatch(/line \d+: invalid CIDR mask in address "10\.1\.2\.3\/99"/);
    expect(r.stdout + r.stderr).toContain('The previous files were restored; nothing was restarted');
    expect(await hbaFile()).toBe(broken);
    // The server still runs with the file it read last: TLS only.
    expect((await connect(PASSWORD, 'sslmode=require')).code).toBe(0);
    expect((await connect(PASSWORD, 'sslmode=disable')).code).not.toBe(0);
    expect((await lab.ssh(DB, `sed -i '$d' ${file}`)).code).toBe(0);
  });

  it("an entry removed from the inventory is removed from pg_hba.conf: the client is turned away; the distribution's lines and an administrator's stay", async () => {
    const own = 'host    all             all             192.0.2.7/32            scram-sha-256  # added by hand';
    expect((await lab.ssh(DB, `printf '%s\\n' ${q(own)} >> "$(runuser -u postgres -- psql -XAt -c 'SHOW hba_file')"`)).code).toBe(0);
    await hbaEntries([]);
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, DB)).toBe(1);
    const change = r.json!.hosts.find((p) => p.host === DB)!.changes;
    expect(change.map((c) => [c.action, c.type, c.summary])).toEqual([['-', 'postgres hba', 'remove 1 entry']]);

    const gone = await connect(PASSWORD, 'sslmode=require');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain(`no pg_hba.conf entry for host "${lab.host(CLIENT).ip}"`);
    expect(await hbaFile()).toBe(`${distribution}${own}\n`);
    // Local access through Debian's own lines is as before.
    const local = await lab.ssh(DB, `runuser -u postgres -- psql -XAt -d synapse -c 'SELECT 1'`);
    expect(local.stdout.trim()).toBe('1');

    const again = await run('--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, DB)).toBe(0);
  });
});
