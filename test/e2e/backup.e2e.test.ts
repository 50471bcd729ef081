// Backups that restore, and moving a homeserver to a new host, proven with a client. A homeserver
// (PostgreSQL + Synapse + the backup role on bkhs) backs up to a repository host (bkrepo, the
// backup_repository role), through the real CLI: users, a room, messages and an image made by a
// client are backed up; the repository holds none of them readable; the timer runs on its own and
// prune keeps what the inventory says; a repository that cannot be reached fails the unit and the
// next run's recap says so. Then bkhs is destroyed, a fresh host of the same inventory name (only
// ansible_host changes) converges from the same inventory, the newest archive is restored onto it,
// and the client logs in with the same passwords, reads the same room and messages, downloads the
// same image (same sha256), and the server signs with the key it had. The proxy (nginx on bkrepo,
// its upstream bkhs's address read from the inventory) follows the move in the same run.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { deriveSecret } from '../../src/secrets/secrets.ts';
import { randomPng, tarOf } from './helpers/backup.ts';
import { httpsByName } from './helpers/https.ts';
import { api, eventually, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const MASTER = 'e2e-backup-master-secret-0123456789';
const SERVER = 'bk.lab.test';
const ADMIN_PASSWORD = 'e2e-admin-password-1';
// Hostile passwords: they reach Synapse's database, which the backup carries.
const ALICE_PASSWORD = `alice 'pw' "$(touch /tmp/pwned)" 1`;
const BOB_PASSWORD = 'bob\\pw;`id` 2 ünïcode';
/** What the repository must never show in clear, and what the restored server must show again. */
const MESSAGE = `backup-e2e-message-${randomUUID()}`;
const REPLY = `backup-e2e-reply-${randomUUID()}`;
/**
 * Fixed addresses at the top of the lab's range, away from the lowest-free ones other e2e files get;
 * the new homeserver host gets another address than the old one, as a real move would.
 */
const IPS = { repo: '10.231.0.241', hs: '10.231.0.242', newHs: '10.231.0.243' };
/** The repository passphrase the role derives for bkhs from the master secret. */
const PASSPHRASE = deriveSecret(MASTER, 'bkhs:backup_passphrase');

describe('backup and backup_repository roles: a homeserver backed up, destroyed, moved to a new host and restored', () => {
  let repo: LabFixture;
  let hs: LabFixture;
  let project: string;
  /** Every CLI output of the file: none may hold the passphrase or the master secret. */
  const outputs: string[] = [];
  const cli = async (args: string[]) => {
    const r = await mxplay(args, { cwd: project });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const run = (...args: string[]) => cli(['run', 'site.yml', '-i', 'e2e', ...args]);
  const base = () => `http://${hs.host('bkhs').ip}:8008`;
  const image = randomPng();
  /** What the client made before the backup. */
  const made = { room: '', mxc: '', imageSha: '', verifyKeys: {} as Record<string, unknown> };

  async function writeInventory() {
    const knownHosts = await readFile(repo.knownHostsFile, 'utf8');
    const repoIp = repo.host('bkrepo').ip;
    // The repository host's key as the lab recorded it before boot: pinned, never trusted on first use.
    const hostKey = knownHosts.split('\n').find((l) => l.split(' ')[0]!.split(',').includes(repoIp) && l.split(' ')[1] === 'ssh-ed25519');
    if (!hostKey) throw new Error(`no ssh-ed25519 key of ${repoIp} in ${repo.knownHostsFile}`);
    const inventory = {
      all: {
        vars: {
          ansible_user: 'root',
          ansible_ssh_private_key_file: hs.keyFile,
          mxplay_known_hosts_file: hs.knownHostsFile,
          mxplay_master_secret: MASTER,
          synapse_package_source: 'debian',
          synapse_server_name: SERVER,
          synapse_public_baseurl: `https://${SERVER}/`,
          synapse_admin_user: 'admin',
          synapse_admin_password: ADMIN_PASSWORD,
          // Reached from this machine directly, as synapse.e2e does; the proxies have their own tests.
          synapse_bind_addresses: ['0.0.0.0'],
          backup_repository_host: 'bkrepo',
          backup_repository_host_key: hostKey.split(' ').slice(1, 3).join(' '),
          // Only the newest 2 (borg counts each rule after the others: a daily 1 would keep a third).
          backup_keep_last: 2,
          backup_keep_daily: 0,
          backup_keep_weekly: 0,
          backup_keep_monthly: 0,
          backup_randomized_delay_s: 0,
        },
        hosts: {
          bkhs: { ansible_host: hs.host('bkhs').ip },
          bkrepo: {
            ansible_host: repoIp,
            // The proxy in front of the homeserver, on another host: its upstream is bkhs's address,
            // so moving bkhs is one changed ansible_host for both.
            proxy_synapse_host: "{{ hostvars['bkhs'].ansible_host }}",
            proxy_tls_self_signed: true,
            mxplay_verify_resolve: 'inventory',
            mxplay_verify_ca_file: join(project, 'proxy-ca.crt'),
          },
        },
        children: { matrix: { hosts: { bkhs: {} } }, backup_repository: { hosts: { bkrepo: {} } }, proxy: { hosts: { bkrepo: {} } } },
      },
    };
    await writeFile(join(project, 'inventory', 'e2e', 'hosts.yml'), stringify(inventory));
  }

  /** The archives of bkhs's repository, oldest first, listed on bkhs with the role's own borg settings. */
  async function archives(): Promise<string[]> {
    const r = await hs.ssh('bkhs', "eval \"$(grep '^export BORG_' /usr/local/sbin/mxplay-backup)\" && borg list --lock-wait 600 --short");
    if (r.code !== 0) throw new Error(`borg list failed: ${r.stderr}`);
    return r.stdout.trim().split('\n').filter(Boolean);
  }

  /** Until no backup runs on bkhs (one the timer started may still be going). */
  const backupIdle = () => eventually(async () => {
    const state = (await hs.ssh('bkhs', 'systemctl show -p ActiveState --value mxplay-backup.service')).stdout.trim();
    if (state === 'activating' || state === 'deactivating') throw new Error(`mxplay-backup.service is ${state}`);
  }, 300_000, 1000);

  const userToken = async (admin: string, user: string) => {
    const r = await api(base(), `/_synapse/admin/v1/users/${encodeURIComponent(`@${user}:${SERVER}`)}/login`, { token: admin, body: {} });
    expect(r.status, r.text).toBe(200);
    return r.json.access_token as string;
  };

  beforeAll(async () => {
    [repo, hs] = await Promise.all([labHosts(['bkrepo'], { ips: { bkrepo: IPS.repo } }), labHosts(['bkhs'], { ips: { bkhs: IPS.hs } })]);
    project = await projectDir('backup');
    await mkdir(join(project, 'inventory', 'e2e'), { recursive: true });
    await writeInventory();
    await writeFile(join(project, 'site.yml'), [
      '- hosts: backup_repository',
      '  roles: [backup_repository]',
      '- hosts: matrix',
      '  roles: [postgres, synapse, backup]',
      '- hosts: proxy',
      '  roles: [nginx]',
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    await Promise.all([hs?.stop(), repo?.stop()]);
  });

  it('converges both hosts from bare; the plan file and every output hold no passphrase; a second run changes nothing', async () => {
    const plan = await cli(['plan', 'site.yml', '-i', 'e2e', '-o', 'plan.json']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const planText = await readFile(join(project, 'plan.json'), 'utf8');
    expect(planText).toContain('/etc/mxplay-backup/passphrase');
    expect(planText).not.toContain(PASSPHRASE);
    expect(planText).not.toContain('BEGIN OPENSSH PRIVATE KEY');

    const r = await run('--yes', '-vv');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The first backup has not run yet: the recap says so.
    expect(r.stdout).toContain('bkhs backup: no successful backup yet');
    await writeFile(join(project, 'proxy-ca.crt'), (await repo.ssh('bkrepo', 'cat /etc/ssl/mxplay-selfsigned/ca.crt')).stdout);

    const state = await hs.ssh('bkhs', [
      "stat -c '%a %U' /etc/mxplay-backup /etc/mxplay-backup/passphrase /etc/mxplay-backup/id_ed25519 /var/lib/mxplay-backup",
      'systemctl is-enabled mxplay-backup.timer; systemctl is-active mxplay-backup.timer',
      "dpkg-query -W -f '${Version}\\n' borgbackup",
    ].join('; '));
    const lines = state.stdout.trim().split('\n');
    console.log(`borgbackup ${lines.at(-1)}`);
    expect(lines.slice(0, -1)).toEqual(['700 root', '600 root', '600 root', '700 root', 'enabled', 'active']);
    // The file holds exactly the derived passphrase (so the derivation the test assumes is the role's).
    const pass = await hs.ssh('bkhs', 'base64 -w0 /etc/mxplay-backup/passphrase');
    expect(Buffer.from(pass.stdout.trim(), 'base64').toString()).toBe(PASSPHRASE);
    // The repository host: borg's user may only run borg serve, in bkhs's folder.
    const keys = await repo.ssh('bkrepo', "grep -v '^#' /srv/borg/.ssh/authorized_keys; stat -c '%a %U' /srv/borg/bkhs");
    expect(keys.stdout).toMatch(/^command="borg serve --restrict-to-path \/srv\/borg\/bkhs",restrict ssh-ed25519 \S+ mxplay-backup@bkhs\n700 borg\n$/);
    const pub = await hs.ssh('bkhs', 'ssh-keygen -y -f /etc/mxplay-backup/id_ed25519');
    expect(keys.stdout).toContain(pub.stdout.trim().split(' ').slice(0, 2).join(' '));

    const again = await run('--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(again, 'bkhs')).toBe(0);
    expect(changedOf(again, 'bkrepo')).toBe(0);
  });

  it('a client makes users, a room, messages and an image; mxplay backup reports the archive, its size and duration', async () => {
    const adminLogin = await login(base(), 'admin', ADMIN_PASSWORD);
    expect(adminLogin.status, adminLogin.text).toBe(200);
    const admin = adminLogin.json.access_token as string;
    for (const [user, password] of [['alice', ALICE_PASSWORD], ['bob', BOB_PASSWORD]] as const) {
      const r = await api(base(), `/_synapse/admin/v2/users/${encodeURIComponent(`@${user}:${SERVER}`)}`, { method: 'PUT', token: admin, body: { password } });
      expect(r.status, r.text).toBe(201);
    }
    const alice = await userToken(admin, 'alice');
    const bob = await userToken(admin, 'bob');
    const room = await api(base(), '/_matrix/client/v3/createRoom', { token: alice, body: { name: 'Backup e2e', invite: [`@bob:${SERVER}`] } });
    expect(room.status, room.text).toBe(200);
    made.room = room.json.room_id;
    expect((await api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(made.room)}/join`, { token: bob, body: {} })).status).toBe(200);
    const send = (token: string, content: unknown) =>
      api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(made.room)}/send/m.room.message/${randomUUID()}`, { method: 'PUT', token, body: content });
    expect((await send(alice, { msgtype: 'm.text', body: MESSAGE })).status).toBe(200);
    expect((await send(bob, { msgtype: 'm.text', body: REPLY })).status).toBe(200);
    const up = await fetch(`${base()}/_matrix/media/v3/upload?filename=random.png`, {
      method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'image/png' }, body: new Uint8Array(image.png),
    });
    expect(up.status).toBe(200);
    made.mxc = ((await up.json()) as { content_uri: string }).content_uri;
    made.imageSha = createHash('sha256').update(image.png).digest('hex');
    expect((await send(alice, { msgtype: 'm.image', body: 'random.png', url: made.mxc, info: { mimetype: 'image/png', size: image.png.length } })).status).toBe(200);
    made.verifyKeys = (await api(base(), '/_matrix/key/v2/server')).json.verify_keys;
    expect(Object.keys(made.verifyKeys)).toHaveLength(1);

    const b = await cli(['backup', 'site.yml', '-i', 'e2e']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toMatch(/bkhs\s+archive bkhs-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\s+[\d.]+ (B|KiB|MiB) \([\d.]+ (B|KiB|MiB) new after deduplication, \d+ files\)\s+[\d.]+s \(borg create [\d.]+s\)/);
    // Only the hosts with the backup role: the repository host is none of them.
    expect(b.stdout).not.toMatch(/^\s+bkrepo/m);
    expect(await archives()).toHaveLength(1);
  });

  it('the repository is encrypted: neither the message text nor the image bytes are in its files, though both are on the homeserver', async () => {
    const stored = await tarOf(repo, 'bkrepo', '/srv/borg/bkhs');
    expect(stored.length).toBeGreaterThan(image.png.length);
    expect(stored.indexOf(Buffer.from(MESSAGE))).toBe(-1);
    expect(stored.indexOf(image.needle)).toBe(-1);
    // The same search finds both where they are in clear: it is not a search that cannot succeed.
    expect((await tarOf(hs, 'bkhs', '/var/lib/matrix-synapse/media')).indexOf(image.needle)).toBeGreaterThan(-1);
    const dump = await hs.ssh('bkhs', 'runuser -u postgres -- pg_dump -d synapse | base64 -w0');
    expect(Buffer.from(dump.stdout.trim(), 'base64').indexOf(Buffer.from(MESSAGE))).toBeGreaterThan(-1);
  });

  it('the timer runs the backup on its own, and prune keeps the newest 2 archives as configured', async () => {
    const before = await archives();
    // Every 10 s for a while: the timer itself, not a start by hand.
    const fast = await run('--yes', '-e', '{"backup_on_calendar": "*:*:0/10"}');
    expect(fast.code, fast.stdout + fast.stderr).toBe(0);
    try {
      await eventually(async () => {
        const fresh = (await archives()).filter((a) => !before.includes(a));
        // Two new archives: three made in all, of which keep_last 2 keeps 2.
        if (fresh.length < 2) throw new Error(`timer archives so far: ${fresh.join(', ') || 'none'}`);
      }, 180_000, 2000);
    } finally {
      // Back to the inventory's schedule, whatever happened.
      const back = await run('--yes');
      expect(back.code, back.stdout + back.stderr).toBe(0);
      expect(back.stdout).toMatch(/bkhs backup: last successful backup \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ (s|min) ago\), archive bkhs-/);
    }
    const trigger = await hs.ssh('bkhs', 'systemctl show -p LastTriggerUSec --value mxplay-backup.timer; systemctl show -p NextElapseUSecRealtime --value mxplay-backup.timer');
    const [last, next] = trigger.stdout.trim().split('\n');
    expect(last).not.toMatch(/^(n\/a|0)?$/);
    // The inventory's schedule again: next at 03:30.
    expect(next).toMatch(/ 03:30:00 /);
    await backupIdle();
    // A run reads the archives only once it has pruned: what stays is what the counts keep.
    const kept = await archives();
    expect(kept).toHaveLength(2);
    expect(kept).not.toContain(before[0]);
  });

  it('a backup to an unreachable repository fails the unit; the next run\'s recap says so; once reachable, it recovers', async () => {
    const repoIp = repo.host('bkrepo').ip;
    await backupIdle();
    // The repository host cut off from bkhs alone, inside bkhs's own network namespace.
    expect((await hs.ssh('bkhs', `ip route add blackhole ${repoIp}/32`)).code).toBe(0);
    try {
      const b = await cli(['backup', 'site.yml', '-i', 'e2e']);
      expect(b.code).toBe(1);
      expect(b.stdout).toMatch(/bkhs\s+FAILED/);
      expect(b.stdout).toContain('backup failed at borg create');
      expect((await hs.ssh('bkhs', 'systemctl is-failed mxplay-backup.service')).stdout.trim()).toBe('failed');
      const r = await run('--yes');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/bkhs backup FAILED \d{4}-\d\d-\d\d \d\d:\d\d UTC at borg create \(exit \d+\); last successful backup .*; see journalctl -u mxplay-backup.service/);
    } finally {
      await hs.ssh('bkhs', `ip route del blackhole ${repoIp}/32`);
    }
    const ok = await cli(['backup', 'site.yml', '-i', 'e2e']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const r = await run('--check');
    expect(r.stdout).toMatch(/bkhs backup: last successful backup/);
    expect(r.stdout).not.toContain('FAILED');
  });

  it('moving: bkhs is destroyed, a fresh bkhs converges from the same inventory (only ansible_host changes), the newest archive is restored, and the client finds everything again', async () => {
    // As docs/backup.md says: the old host's timer off, and one last backup, whose archive is the newest.
    expect((await hs.ssh('bkhs', 'systemctl disable --now mxplay-backup.timer')).code).toBe(0);
    await backupIdle();
    const last = await cli(['backup', 'site.yml', '-i', 'e2e', '--limit', 'bkhs']);
    expect(last.code, last.stdout + last.stderr).toBe(0);
    const newest = /archive (bkhs-\S+)/.exec(last.stdout)![1]!;
    expect((await archives()).at(-1)).toBe(newest);
    await hs.stop();
    hs = await labHosts(['bkhs'], { ips: { bkhs: IPS.newHs } });
    await writeInventory();
    const fresh = await run('--yes');
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
    // The same run switched the proxy: nginx on bkrepo now sends requests to the new address.
    expect(fresh.stdout).toMatch(/^ {2}bkrepo +ok=\d+ +changed=[1-9]/m);
    const upstream = await repo.ssh('bkrepo', 'cat /etc/nginx/conf.d/mxplay-matrix.conf');
    expect(upstream.stdout).toContain(`${IPS.newHs}:8008`);
    expect(upstream.stdout).not.toContain(`${IPS.hs}:8008`);
    // A new server: its own signing key, until the restore.
    expect((await api(base(), '/_matrix/key/v2/server')).json.verify_keys).not.toEqual(made.verifyKeys);

    const refused = await cli(['restore', 'site.yml', '-i', 'e2e', '--host', 'bkhs']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('give --yes');
    const r = await cli(['restore', 'site.yml', '-i', 'e2e', '--host', 'bkhs', '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`restored archive ${newest}; Synapse answers, signing key ${Object.keys(made.verifyKeys)[0]}`);

    // The client, with the same passwords.
    const tokens: Record<string, string> = {};
    for (const [user, password] of [['alice', ALICE_PASSWORD], ['bob', BOB_PASSWORD], ['admin', ADMIN_PASSWORD]] as const) {
      const l = await eventually(async () => {
        const x = await login(base(), user, password);
        if (x.status !== 200) throw new Error(`${user}: ${x.status} ${x.text}`);
        return x;
      }, 30_000, 500);
      expect(l.json.user_id).toBe(`@${user}:${SERVER}`);
      tokens[user] = l.json.access_token;
    }
    for (const user of ['alice', 'bob']) {
      const joined = await api(base(), '/_matrix/client/v3/joined_rooms', { token: tokens[user] });
      expect(joined.json.joined_rooms).toContain(made.room);
    }
    const msgs = await api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(made.room)}/messages?dir=b&limit=50`, { token: tokens.bob });
    expect(msgs.status, msgs.text).toBe(200);
    const bodies = (msgs.json.chunk as { type: string; content: { body?: string; url?: string } }[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
    expect(bodies).toEqual(['random.png', REPLY, MESSAGE]);
    const name = await api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(made.room)}/state/m.room.name`, { token: tokens.alice });
    expect(name.json.name).toBe('Backup e2e');
    const [serverName, mediaId] = made.mxc.replace('mxc://', '').split('/');
    const dl = await fetch(`${base()}/_matrix/client/v1/media/download/${serverName}/${mediaId}`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    expect(dl.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await dl.arrayBuffer())).digest('hex')).toBe(made.imageSha);
    expect((await api(base(), '/_matrix/key/v2/server')).json.verify_keys).toEqual(made.verifyKeys);

    // As users meet it after the move: through the proxy by name over TLS. alice logs in and reads
    // the room; mxplay verify finds the client API, the delegation and the old signing key there.
    const viaProxy = (path: string, init: { token?: string; body?: unknown } = {}) =>
      httpsByName(repo.host('bkrepo').ip, readFileSync(join(project, 'proxy-ca.crt'), 'utf8'), SERVER, path, init);
    const alice = await viaProxy('/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: ALICE_PASSWORD } });
    expect(alice.status, alice.text).toBe(200);
    const read = await viaProxy(`/_matrix/client/v3/rooms/${encodeURIComponent(made.room)}/messages?dir=b&limit=50`, { token: alice.json.access_token });
    expect(read.status, read.text).toBe(200);
    expect((read.json.chunk as { content: { body?: string } }[]).map((e) => e.content.body)).toContain(MESSAGE);
    const verify = await cli(['verify', 'site.yml', '-i', 'e2e']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`federation, as other servers find it[\\s\\S]*key ${Object.keys(made.verifyKeys)[0]}`));

    // The restored host is what the inventory says: nothing to change, and its backups go on.
    const again = await run('--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    const b = await cli(['backup', 'site.yml', '-i', 'e2e']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
  });

  it('no output of any command held the passphrase or the master secret', () => {
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(PASSPHRASE);
    expect(all).not.toContain(MASTER);
  });
});
