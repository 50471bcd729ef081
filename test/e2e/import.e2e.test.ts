// Adopting a hand-built homeserver (issue #17). imp1 is built by hand as an admin following the
// Fediversity how-to would (helpers/handbuilt.ts: apt, conf.d fragments written with cat, PostgreSQL
// with C collation, nginx with .well-known, coturn, users, rooms and messages made through the
// client API). `mxplay import` writes its inventory; `mxplay run` then takes it over: Synapse's
// effective configuration (as Synapse loads it) changes only in keys the import reported, users,
// rooms and messages stay, a TURN client on imp2 still relays through coturn, and a second run
// changes nothing. What no role covers is reported with its file and kept by an escape hatch.
// Then the escape hatches on the same host (helpers/escape-hatches.ts): a fragment and a live site
// its admin writes later are refused before login with bad values, kept when Synapse's or nginx's
// check fails, replaced on success with hostile kept values read back exactly by Synapse, coturn's
// extra line in effect, and a second run changes nothing.
import { copyFile, cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { q } from '../../src/resources/sh.ts';
import { jinjaLiteral } from '../../src/vars/literal.ts';
import { labCa } from '../lab/ca.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import {
  ADMIN_CONTACT, COTURN_CONF, COTURN_EXTRA, HANDMADE_HEADER, ROOM_VERSION, NGINX_SITE_FILE, SYNAPSE_CONF_D, TURN_PORT,
  buildByHand, configKeysChanged, effectiveSynapseConfig, nginxSite, type HandBuilt, type MadeUser,
} from './helpers/handbuilt.ts';
import {
  HANDMADE, LOADER, MAX_ALLOCATE_LIFETIME, NOTE, OLD_SITE, OLD_SITE_TEXT, TURN_SECRET, adminContact, escapeVars, extraConfig, handmadeText,
} from './helpers/escape-hatches.ts';
import { curl, httpsByName } from './helpers/https.ts';
import { eventually } from './helpers/matrix.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';
import { turnAllocate, turnCredentials } from './helpers/turn-client.ts';

const HOST = 'imp1';
const CLIENT = 'imp2';
const PEER_PORT = 3490;
const VAULT_PASSWORD = 'imp-e2e-vault-password-1';
const CONTACT_FILE = `${SYNAPSE_CONF_D}/contact.yaml`;
const PUBLIC_FILE = `${SYNAPSE_CONF_D}/public.yaml`;

interface ImportReport {
  host: string;
  file: string;
  roles: string[];
  secrets: { var: string; from: string }[];
  synapseChanges: { key: string; reason: string }[];
  kept: { file: string; key?: string; line?: number; via: string }[];
  notImported: { file: string; key?: string; line?: number; why: string }[];
  replacedFiles: string[];
}

describe('adopting a hand-built homeserver with mxplay import', () => {
  let lab: LabFixture;
  let built: HandBuilt;
  let project: string;
  let inv: string;
  let vaultFile: string;
  let report: ImportReport;
  let before: Record<string, unknown>;
  let pidBefore = '';
  let contactBefore = '';
  /** alice's token from her login after the run (logins are rate-limited: no more than needed) */
  let aliceToken = '';
  /** the key part of Synapse's signing key file */
  let signingKey = '';
  let signingKeyFile = '';
  const hostVarsFile = () => join(inv, 'host_vars', `${HOST}.yml`);
  const failed = (r: CliResult) => `exit ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', inv, '--vault-password-file', vaultFile, ...args], { cwd: project });
  const https = (path: string, init: Parameters<typeof httpsByName>[4] = {}) =>
    httpsByName(built.ip, built.ca, built.serverName, path, { timeoutMs: 30_000, ...init });
  const mainPid = async () => (await lab.ssh(HOST, 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
  /** Every secret of the host, and the random head of the database password alone (YAML may escape the rest). */
  const secretValues = () => [...Object.values(built.secrets), built.secrets.dbPassword.slice(0, 16), signingKey];
  /** A digest of every file of the services' configuration: "touching nothing" is checked on it. */
  const configDigest = async () => {
    const r = await lab.ssh(HOST, `find ${SYNAPSE_CONF_D} /etc/matrix-synapse/homeserver.yaml /etc/nginx ${COTURN_CONF} -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  /** The host's secrets by the role variable that holds each. */
  const secretsByVar = (): Record<string, string> => ({
    synapse_db_password: built.secrets.dbPassword,
    synapse_registration_shared_secret: built.secrets.registration,
    synapse_macaroon_secret_key: built.secrets.macaroon,
    synapse_form_secret: built.secrets.form,
    coturn_shared_secret: built.secrets.turn,
    synapse_signing_key: signingKeyFile,
  });
  const loginToken = async (u: MadeUser) => {
    const r = await https('/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.localpart }, password: u.password },
    });
    expect(r.status, r.text).toBe(200);
    return r.json.access_token as string;
  };

  beforeAll(async () => {
    lab = await labHosts([HOST, CLIENT]);
    const clientIp = lab.host(CLIENT).ip;
    // The TURN client host: coturn's test tools (its server off) and an echo peer, made while imp1 is built.
    const client = async () => {
      const r = await lab.ssh(CLIENT, `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install coturn >/dev/null
systemctl disable --now coturn 2>/dev/null
setsid -f turnutils_peer -L ${q(clientIp)} -p ${PEER_PORT} >/dev/null 2>&1 </dev/null
for i in $(seq 100); do ss -Hlun 'sport = :${PEER_PORT}' | grep -q . && exit 0; sleep 0.1; done
echo 'the echo peer did not start' >&2; exit 1`);
      expect(r.code, r.stderr).toBe(0);
    };
    [built] = await Promise.all([buildByHand(lab, HOST), client()]);

    const key = await lab.ssh(HOST, 'cat /etc/matrix-synapse/homeserver.signing.key');
    signingKeyFile = key.stdout;
    signingKey = key.stdout.trim().split(' ')[2] ?? '';
    expect(signingKey, key.stderr).toMatch(/^[A-Za-z0-9+/]{43}=?$/);
    project = await projectDir('import');
    inv = join(project, 'inventory', 'imp');
    // Only how to reach the hosts: everything else is for the import to find.
    await lab.writeInventory(inv);
    vaultFile = join(project, 'vault-password');
    await writeFile(vaultFile, `${VAULT_PASSWORD}\n`, { mode: 0o600 });
    await writeFile(join(project, 'site.yml'), stringify([
      { name: 'the adopted homeserver', hosts: HOST, roles: ['postgres', 'synapse', 'coturn', 'nginx'] },
    ]));
  }, 900_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('the hand-built host serves its own settings: admin_contact, the handmade header, .well-known, the room directory', async () => {
    const config = await effectiveSynapseConfig(lab, HOST);
    expect(config.admin_contact).toBe(ADMIN_CONTACT);
    expect(config.database).toMatchObject({ name: 'psycopg2', args: { user: 'synapse_user', dbname: 'synapse' } });
    const versions = await curl(`https://${built.serverName}/_matrix/client/versions`, { ip: built.ip, ca: (await labCa()).certFile });
    expect(versions.status).toBe(200);
    expect(versions.headers['x-handmade']).toBe('yes');
    expect(built.wellKnown.server).toEqual({ 'm.server': `${built.serverName}:443` });
    // Synapse lists a new public room once its room statistics have caught up.
    await eventually(async () => expect((await https('/_matrix/client/v3/publicRooms', { token: built.tokens.bob })).json.chunk)
      .toContainEqual(expect.objectContaining({ room_id: built.rooms.public, canonical_alias: built.rooms.publicAlias })), 60_000, 500);
  });

  it('mxplay import writes host_vars/imp1.yml with the secrets vault-encrypted, and reports what no role covers with its file', async () => {
    const reportFile = join(project, 'import-report.json');
    const r = await mxplay(['import', '-i', inv, '--host', HOST, '--vault-password-file', vaultFile, '--report-json', reportFile], { cwd: project });
    expect(r.code, failed(r)).toBe(0);
    const text = await readFile(hostVarsFile(), 'utf8');
    for (const s of secretValues()) {
      expect(text).not.toContain(s);
      expect(r.stdout + r.stderr).not.toContain(s);
    }
    expect(text).toContain('!vault |');
    report = JSON.parse(await readFile(reportFile, 'utf8')) as ImportReport;
    expect(report.host).toBe(HOST);
    expect(report.file).toMatch(/host_vars\/imp1\.yml$/);
    expect(report.secrets.map((x) => x.var)).toEqual(expect.arrayContaining([
      'synapse_db_password', 'synapse_registration_shared_secret', 'synapse_macaroon_secret_key', 'synapse_form_secret', 'coturn_shared_secret',
    ]));
    expect(report.roles).toEqual(expect.arrayContaining(['postgres', 'synapse', 'nginx', 'coturn']));
    // The hand-written nginx directive, with its file and line: kept verbatim through nginx_vhost_extra.
    const line = nginxSite(built.serverName).split('\n').findIndex((l) => l.trim() === HANDMADE_HEADER) + 1;
    expect(report.kept, JSON.stringify(report, null, 2)).toContainEqual({ file: '/etc/nginx/sites-enabled/matrix', line, key: 'add_header', via: 'nginx_vhost_extra' });
    expect(report.replacedFiles).toEqual(expect.arrayContaining(['/etc/nginx/sites-enabled/matrix', NGINX_SITE_FILE]));
    // coturn's option the role's template does not write: kept through coturn_extra_options, with its line.
    const turnLine = (await lab.ssh(HOST, `grep -n '^${COTURN_EXTRA}$' ${COTURN_CONF} | cut -d: -f1`)).stdout.trim();
    expect(report.kept).toContainEqual({ file: COTURN_CONF, line: Number(turnLine), key: 'stale-nonce', via: 'coturn_extra_options' });
    // The Synapse setting no role variable covers, with its file and key: kept through
    // synapse_extra_config, or (a fragment holding no key a role writes) its file left as it is.
    // Beside keys a role writes, in a file the roles replace: kept through synapse_extra_config.
    expect(report.kept, JSON.stringify(report.kept, null, 2)).toContainEqual({ file: PUBLIC_FILE, key: 'default_room_version', via: 'synapse_extra_config' });
    expect(report.replacedFiles).toContain(PUBLIC_FILE);
    expect(text).toMatch(/synapse_extra_config:\n\s+default_room_version: "9"/);
    // In a file holding no key a role writes: that file stays as the admin wrote it.
    expect(report.kept).toContainEqual({ file: CONTACT_FILE, key: 'admin_contact', via: 'left in place' });
    expect(report.replacedFiles).not.toContain(CONTACT_FILE);
  });

  it('a second import without --force refuses, naming the existing file, and changes nothing', async () => {
    const [text, mtime] = [await readFile(hostVarsFile(), 'utf8'), (await stat(hostVarsFile())).mtimeMs];
    const r = await mxplay(['import', '-i', inv, '--host', HOST, '--vault-password-file', vaultFile], { cwd: project });
    expect(r.code, failed(r)).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(hostVarsFile());
    expect(await readFile(hostVarsFile(), 'utf8')).toBe(text);
    expect((await stat(hostVarsFile())).mtimeMs).toBe(mtime);
  });

  it('without a vault password, secrets become !env references; run --check fails naming a missing one, touching nothing, and passes with them', async () => {
    // A copy of the inventory as it was before the import: how to reach the hosts, nothing more.
    const copy = join(project, 'inventory', 'envcopy');
    await mkdir(copy, { recursive: true });
    await copyFile(join(inv, 'hosts.yml'), join(copy, 'hosts.yml'));
    const r = await mxplay(['import', '-i', copy, '--host', HOST], { cwd: project });
    expect(r.code, failed(r)).toBe(0);
    const text = await readFile(join(copy, 'host_vars', `${HOST}.yml`), 'utf8');
    for (const s of secretValues()) {
      expect(text).not.toContain(s);
      expect(r.stdout + r.stderr).not.toContain(s);
    }
    // Values tagged !env (a mapping value or a list item; comments may mention the tag too).
    const names = [...text.matchAll(/^[^#\n]*(?::|-)\s+!env\s+(\S+)\s*$/gm)].map((m) => m[1]!);
    expect(names).toContain('IMP1_SYNAPSE_DB_PASSWORD');
    for (const n of names) expect(n).toMatch(/^IMP1_[A-Z0-9_]+$/);

    const digest = await configDigest();
    const pid = await mainPid();
    const check = await mxplay(['run', 'site.yml', '-i', copy, '--check'], { cwd: project });
    expect(check.code, failed(check)).not.toBe(0);
    expect(names.some((n) => (check.stdout + check.stderr).includes(n)), failed(check)).toBe(true);
    expect(await configDigest()).toBe(digest);
    expect(await mainPid()).toBe(pid);

    // Given in the environment, the references resolve to the host's own values.
    const values = secretsByVar();
    const unknown = names.filter((n) => values[n.slice('IMP1_'.length).toLowerCase()] === undefined);
    expect(unknown, 'secret references this test cannot fill').toEqual([]);
    const env = Object.fromEntries(names.map((n) => [n, values[n.slice('IMP1_'.length).toLowerCase()]!]));
    const filled = await mxplay(['run', 'site.yml', '-i', copy, '--check'], { cwd: project, env });
    expect(filled.code, failed(filled)).toBe(0);
    for (const s of secretValues()) expect(filled.stdout + filled.stderr).not.toContain(s);
    expect(await configDigest()).toBe(digest);
  });

  it('import --force without the vault password replaces a host_vars file that holds vault values', async () => {
    const copy = join(project, 'inventory', 'forcecopy');
    await cp(inv, copy, { recursive: true });
    const r = await mxplay(['import', '-i', copy, '--host', HOST, '--force'], { cwd: project });
    expect(r.code, failed(r)).toBe(0);
    const text = await readFile(join(copy, 'host_vars', `${HOST}.yml`), 'utf8');
    expect(text).not.toContain('!vault');
    expect(text).toContain('!env IMP1_SYNAPSE_DB_PASSWORD');
  });

  it('run --check shows the plan and changes nothing', async () => {
    before = await effectiveSynapseConfig(lab, HOST);
    contactBefore = (await lab.ssh(HOST, `cat ${CONTACT_FILE}`)).stdout;
    pidBefore = await mainPid();
    const digest = await configDigest();
    const r = await run('--check');
    expect(r.code, failed(r)).toBe(0);
    expect(r.stdout).toMatch(/imp1/);
    for (const s of secretValues()) expect(r.stdout + r.stderr).not.toContain(s);
    expect(await configDigest()).toBe(digest);
    expect(await mainPid()).toBe(pidBefore);
  });

  it("mxplay run takes it over: Synapse's effective config differs only in keys the import reported", async () => {
    const r = await run('--yes', '--json');
    expect(r.code, failed(r)).toBe(0);
    for (const s of secretValues()) expect(r.stdout + r.stderr).not.toContain(s);
    const after = await effectiveSynapseConfig(lab, HOST);
    const reported = report.synapseChanges.map((c) => c.key);
    const changed = configKeysChanged(before, after);
    // Its effective configuration changed: Synapse was restarted onto it.
    expect(await mainPid()).not.toBe(pidBefore);
    // The import predicted them exactly: nothing changed that it did not report, nothing it reported stayed.
    expect(changed, `changed: ${changed.join(', ')}; reported: ${reported.join(', ')}`).toEqual([...reported].sort());
    expect(after.admin_contact).toBe(ADMIN_CONTACT);
    expect(after.allow_public_rooms_over_federation).toBe(true);
    // Left in place means exactly that: the admin's file, as written.
    expect((await lab.ssh(HOST, `cat ${CONTACT_FILE}`)).stdout).toBe(contactBefore);
    // The file the roles replaced is gone; its setting no variable covers is still what clients get.
    expect((await lab.ssh(HOST, `test -e ${PUBLIC_FILE}; echo $?`)).stdout.trim()).toBe('1');
    expect(after.default_room_version).toBe(ROOM_VERSION);
    const caps = await https('/_matrix/client/v3/capabilities', { token: built.tokens.bob });
    expect(caps.status, caps.text).toBe(200);
    expect(caps.json.capabilities['m.room_versions'].default).toBe(ROOM_VERSION);
  });

  it('users log in with their passwords; rooms, messages and the room directory are all there', async () => {
    // Sessions from before the run still work: same database, same macaroon key.
    for (const token of Object.values(built.tokens)) {
      const who = await https('/_matrix/client/v3/account/whoami', { token });
      expect(who.status, who.text).toBe(200);
    }
    const tokens = { alice: await loginToken(built.users.alice), bob: await loginToken(built.users.bob) };
    aliceToken = tokens.alice;
    for (const [name, token] of Object.entries(tokens)) {
      const joined = await https('/_matrix/client/v3/joined_rooms', { token });
      expect(joined.status, joined.text).toBe(200);
      expect(joined.json.joined_rooms, name).toEqual(expect.arrayContaining([built.rooms.public, built.rooms.private]));
    }
    for (const room of [built.rooms.public, built.rooms.private]) {
      const r = await https(`/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=100`, { token: tokens.bob });
      expect(r.status, r.text).toBe(200);
      const seen = (r.json.chunk as { event_id: string; sender: string; type: string; content: { body?: string } }[])
        .filter((e) => e.type === 'm.room.message')
        .map((e) => ({ roomId: room, eventId: e.event_id, sender: e.sender, body: e.content.body }));
      expect(seen.reverse()).toEqual(built.messages.filter((m) => m.roomId === room));
    }
    const directory = await https('/_matrix/client/v3/publicRooms', { token: tokens.bob });
    expect(directory.status, directory.text).toBe(200);
    expect(directory.json.chunk).toContainEqual(expect.objectContaining({ room_id: built.rooms.public, canonical_alias: built.rooms.publicAlias }));
  });

  it('nginx answers the same .well-known documents; the handmade header the import kept is still served', async () => {
    for (const kind of ['server', 'client'] as const) {
      const r = await https(`/.well-known/matrix/${kind}`);
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual(built.wellKnown[kind]);
    }
    const versions = await curl(`https://${built.serverName}/_matrix/client/versions`, { ip: built.ip, ca: (await labCa()).certFile });
    expect(versions.status).toBe(200);
    expect(versions.headers['x-handmade']).toBe('yes');
  });

  it("a TURN client on imp2 relays packets through coturn with Synapse's credentials", async () => {
    const turn = await https('/_matrix/client/v3/voip/turnServer', { token: aliceToken || built.tokens.alice });
    expect(turn.status, turn.text).toBe(200);
    expect(turn.json.uris).toEqual([`turn:${built.serverName}:${TURN_PORT}?transport=udp`, `turn:${built.serverName}:${TURN_PORT}?transport=tcp`]);
    const clientIp = lab.host(CLIENT).ip;
    const r = await eventually(async () => {
      const x = await lab.ssh(CLIENT, `timeout 60 turnutils_uclient -n 10 -m 1 -c -l 170 -e ${q(clientIp)} -r ${PEER_PORT} -p ${TURN_PORT} -u ${q(turn.json.username)} -w ${q(turn.json.password)} ${q(built.ip)} 2>&1; echo "exit=$?"`);
      expect(x.stdout).toMatch(/exit=0\s*$/);
      return x;
    }, 60_000, 1_000);
    const m = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([10, 10]);
  });

  it('a second mxplay run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, failed(r)).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, HOST)).toBe(0);
  });

  it('removing a hand-written copy of what the roles already say changes no setting: Synapse is not restarted', async () => {
    const dup = `${SYNAPSE_CONF_D}/zz-copy.yaml`;
    const w = await lab.ssh(HOST, `printf 'presence:\\n  enabled: true\\n' > ${dup}`);
    expect(w.code, w.stderr).toBe(0);
    const pid = await mainPid();
    const r = await run('--yes', '--json', '-e', JSON.stringify({ synapse_replaced_files: ['zz-copy.yaml'] }));
    expect(r.code, failed(r)).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes).map((c) => [c.action, c.id])).toEqual([['-', dup]]);
    expect(await mainPid()).toBe(pid);
    const versions = await https('/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);
  });

  // The escape hatches on the same host, now the roles manage it: later, its admin adds a Synapse
  // fragment and an nginx site by hand; a -e file (hostile values) takes them over.
  describe('escape hatches: what an admin wrote by hand after the takeover', () => {
    const escFile = () => join(project, 'escape-vars.yml');
    const runEsc = (...args: string[]) => run('-e', `@${escFile()}`, ...args);
    const sh = async (cmd: string) => {
      const r = await lab.ssh(HOST, cmd);
      expect(r.code, `${cmd}\n${r.stdout}${r.stderr}`).toBe(0);
      return r.stdout;
    };
    const oldSite = () => curl(`http://${built.serverName}:${OLD_SITE.port}/`, { ip: built.ip, timeoutS: 5 });
    const vhostDigest = () => sh('sha256sum /etc/nginx/conf.d/mxplay-matrix.conf');
    /**
     * Logins to the host so far, this one included: sshd's line for this very login (its client
     * port) reaches the journal a moment later, so it is waited for (10 s deadline) before counting.
     */
    const logins = async () => Number((await sh(`port=\${SSH_CLIENT#* }; port=\${port%% *}
for i in $(seq 100); do journalctl -o cat --no-pager | grep -q "Accepted publickey .* port $port " && break; sleep 0.1; done
journalctl -o cat --no-pager | grep -c 'Accepted publickey' || true`)).trim());

    beforeAll(async () => {
      // YAML 1.1, as an -e file is read: '1:20', 'yes' and '0600' quoted, so they stay text.
      await writeFile(escFile(), stringify(jinjaLiteral(escapeVars(built.serverName)), { version: '1.1' }));
      await writeFile(join(project, 'proxy.yml'), stringify([{ hosts: HOST, roles: ['nginx'] }]));
      await sh(`set -e
cat > ${HANDMADE} <<'EOF'
${handmadeText(built.serverName)}EOF
cat > ${OLD_SITE.available} <<'EOF'
${OLD_SITE_TEXT}EOF
ln -s ${OLD_SITE.link} ${OLD_SITE.enabled}
nginx -t 2>/dev/null && systemctl reload nginx`);
      // A reload takes effect a moment later: polled until the site answers (30 s deadline).
      const before = await eventually(oldSite);
      expect([before.status, before.body]).toEqual([200, 'handmade site\n']);
    }, 120_000);

    it("a key a role owns and a path outside nginx's folder are refused before mxplay logs in", async () => {
      const before = await logins();
      const r = await runEsc('--yes', '-e', JSON.stringify({ synapse_extra_config: { database: { name: 'sqlite3' } }, proxy_replaced_files: ['/etc/passwd'] }));
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(1);
      expect(out).toMatch(/host imp1, role synapse, key synapse_extra_config: synapse_extra_config\.database: mxplay writes database itself: set it with the synapse_db_\* variables \(role synapse\)/);
      expect(out).toMatch(/host imp1, role nginx, key proxy_replaced_files: proxy_replaced_files\[0\]: \/etc\/passwd: the nginx role removes only files of \/etc\/nginx\//);
      expect(await logins()).toBe(before + 1); // only the count's own login
      expect(await sh(`cat ${HANDMADE}; readlink ${OLD_SITE.enabled}; test -e /etc/passwd && echo passwd`)).toBe(`${handmadeText(built.serverName)}${OLD_SITE.link}\npasswd\n`);
    });

    it("options Synapse's check refuses are never swapped in: the hand-written fragments stay, Synapse keeps running", async () => {
      const state = `cat ${HANDMADE} ${CONTACT_FILE} ${SYNAPSE_CONF_D}/extra.yaml; systemctl is-active matrix-synapse; systemctl show -p MainPID --value matrix-synapse`;
      const before = await sh(state);
      expect(before).toContain(handmadeText(built.serverName));
      const r = await runEsc('--yes', '-e', JSON.stringify({ synapse_extra_config: { default_room_version: 'no-such-version' } }));
      const out = r.stdout + r.stderr;
      expect(r.code, out).not.toBe(0);
      expect(out).toMatch(/validation failed \(.*synapse\.config/);
      expect(out).toContain('no-such-version');
      expect(await sh(state)).toBe(before);
    });

    it('a vhost nginx -t refuses is never swapped in: the hand-written site and its symlink stay, and answer', async () => {
      const vhost = await vhostDigest();
      const r = await mxplay(['run', 'proxy.yml', '-i', inv, '--vault-password-file', vaultFile, '-e', `@${escFile()}`, '--yes',
        '-e', JSON.stringify({ nginx_vhost_extra: 'mxplay_esc_bogus on;' })], { cwd: project });
      const out = r.stdout + r.stderr;
      expect(r.code, out).not.toBe(0);
      expect(out).toMatch(/validation failed \(nginx -t\)/);
      expect(out).toContain('unknown directive "mxplay_esc_bogus"');
      // Still a symlink (restored as one), its target intact, the role's vhost as it was.
      expect(await sh(`stat -c %F ${OLD_SITE.enabled}; readlink ${OLD_SITE.enabled}; cat ${OLD_SITE.available}`))
        .toBe(`symbolic link\n${OLD_SITE.link}\n${OLD_SITE_TEXT}`);
      expect(await vhostDigest()).toBe(vhost);
      expect((await oldSite()).body).toBe('handmade site\n');
    });

    it("converges: hand-written files gone, kept options exact in Synapse, Synapse through nginx, coturn's extra option in effect", async () => {
      // coturn's journal from here on: the hand-built config (its no-dtls line) logged bad lines before the takeover.
      const since = (await sh('date +%s')).trim();
      const r = await runEsc('--yes');
      const out = r.stdout + r.stderr;
      expect(r.code, failed(r)).toBe(0);
      // extra.yaml's diff is hidden (hand-written options may hold secrets).
      expect(out).not.toContain("o'brien");
      expect(out).not.toContain('"secret" #1');

      expect(await sh(`for p in ${HANDMADE} ${CONTACT_FILE} ${OLD_SITE.enabled} ${OLD_SITE.available}; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done; stat -c '%a %U' ${SYNAPSE_CONF_D}/extra.yaml`))
        .toBe('600 matrix-synapse\n');
      const loaded = JSON.parse(await sh(`cd /var/lib/matrix-synapse && runuser -u matrix-synapse -- python3 - <<'PYEOF'\n${LOADER}PYEOF`));
      expect(loaded.files).toContain(`${SYNAPSE_CONF_D}/extra.yaml`);
      expect(loaded.files).not.toContain(HANDMADE);
      expect(loaded.admin_contact).toBe(adminContact(built.serverName));
      expect(loaded.note).toEqual(NOTE);
      expect(loaded.profile_auth).toBeNull(); // only the hand-written fragment had it
      expect(loaded.url_preview_enabled).toBe(false);

      // From outside: Synapse through nginx, the old site gone.
      const versions = await https('/_matrix/client/versions');
      expect(versions.status, versions.text).toBe(200);
      expect(versions.json.versions).toContain('v1.1');
      // require_auth_for_profile_requests is gone: an unknown user's profile is 404, not 401.
      const profile = await https(`/_matrix/client/v3/profile/${encodeURIComponent(`@nobody:${built.serverName}`)}`);
      expect(profile.status, profile.text).toBe(404);
      await expect(oldSite()).rejects.toThrow(/Connection refused|Failed to connect/);

      // coturn read the extra line: it grants at most 120 s (its default is 600) and logged no bad line.
      const [user, password] = turnCredentials(TURN_SECRET, 'esc');
      expect(await turnAllocate(built.ip, TURN_PORT, user, password)).toEqual({ code: 200, lifetime: MAX_ALLOCATE_LIFETIME });
      expect(await sh(`journalctl -u coturn -o cat --no-pager --since @${since} | grep 'Bad configuration format' || true`)).toBe('');
    });

    it('on the running host, one refused set keeps everything: a role fragment, a removal, the extra options, Synapse not restarted', async () => {
      const state = `cat ${SYNAPSE_CONF_D}/media.yaml ${SYNAPSE_CONF_D}/extra.yaml ${SYNAPSE_CONF_D}/late.yaml; systemctl show -p MainPID --value matrix-synapse`;
      await sh(`printf 'auto_join_rooms: []\\n' > ${SYNAPSE_CONF_D}/late.yaml`);
      const before = await sh(state);
      const r = await runEsc('--yes', '-e', JSON.stringify(jinjaLiteral({
        synapse_max_upload_size: '7M', // media.yaml changes
        synapse_replaced_files: ['handmade.yaml', 'contact.yaml', 'late.yaml'], // late.yaml goes
        synapse_extra_config: { ...extraConfig(built.serverName), default_room_version: 'no-such-version' }, // refused by Synapse
      })));
      expect(r.code, failed(r)).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/validation failed[^]*no-such-version[^]*media\.yaml[^]*late\.yaml/);
      expect(await sh(state)).toBe(before);
      await sh(`rm ${SYNAPSE_CONF_D}/late.yaml`);
    });

    it('a second run with the escape hatches changes nothing', async () => {
      const r = await runEsc('--yes', '--json');
      expect(r.code, failed(r)).toBe(0);
      expect(changedOf(r, HOST)).toBe(0);
    });
  });
});
