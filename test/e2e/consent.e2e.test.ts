// The synapse_consent and synapse_server_notices roles on a fresh host: Synapse (Debian's package,
// on PostgreSQL, invite-token registration) serves the policy, blocks a new user until consent,
// sends the consent server notice, records consent through its own form, and starts without it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jinjaLiteral } from '../../src/vars/literal.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, eventually, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MASTER = 'e2e-master-secret-0123456789';
const PUBLIC_BASEURL = 'https://cons1.lab.test/';
const CONF = '/etc/matrix-synapse/conf.d';
const FRAGMENT = `${CONF}/user_consent.yaml`;
const NOTICES = `${CONF}/server_notices.yaml`;
const TEMPLATE_DIR = '/etc/matrix-synapse/consent-e2e';
const TEMPLATES = `${TEMPLATE_DIR}/en`;
const NOTICES_AVATAR = 'mxc://cons1.lab.test/noticesAvatar';
const POLICY = '<h1 id="policy">Lab terms 1.0</h1>\n<p>Be excellent to each other.</p>';
const NOTICE = 'Please review and accept the lab terms at %(consent_uri)s';

/** A policy name with Jinja2 tags, markup and quotes: it must be shown, never interpreted. */
const POLICY_NAME = `Lab Terms {{ 7*7 }} {% if true %}x{% endif %} <b>"it's"</b> & $(id)`;

/** What a browser shows for text with character references. */
const htmlDecode = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()]!);

describe('synapse_consent + synapse_server_notices: a new user must accept the policy before sending', () => {
  let lab: LabFixture;
  let project: string;
  const base = () => `http://${lab.host('cons1').ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  let adminToken: string;

  /** Registration with a fresh single-use token from the admin API (UIA: session, token, dummy). */
  async function register(username: string) {
    const tok = await api(base(), '/_synapse/admin/v1/registration_tokens/new', { token: adminToken, body: { uses_allowed: 1 } });
    expect(tok.status, tok.text).toBe(200);
    const first = await api(base(), '/_matrix/client/v3/register', { body: { username, password: 'e2e-user-password-1' } });
    expect(first.status, first.text).toBe(401);
    const session = first.json.session as string;
    let r = await api(base(), '/_matrix/client/v3/register', {
      body: { username, password: 'e2e-user-password-1', auth: { type: 'm.login.registration_token', token: tok.json.token, session } },
    });
    if (r.status === 401 && !r.json.errcode) {
      expect(r.json.completed).toContain('m.login.registration_token');
      r = await api(base(), '/_matrix/client/v3/register', {
        body: { username, password: 'e2e-user-password-1', auth: { type: 'm.login.dummy', session } },
      });
    }
    expect(r.status, r.text).toBe(200);
    expect(r.json.user_id).toBe(`@${username}:cons1.lab.test`);
    return r.json.access_token as string;
  }

  beforeAll(async () => {
    lab = await labHosts(['cons1']);
    project = await projectDir('consent');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_server_name: 'cons1.lab.test',
      synapse_public_baseurl: PUBLIC_BASEURL,
      synapse_admin_user: 'admin',
      synapse_admin_password: ADMIN_PASSWORD,
      synapse_bind_addresses: ['0.0.0.0'],
      synapse_registration: 'invite-token',
      synapse_listener_resources: ['client', 'federation', 'consent'],
      synapse_server_notices_enabled: true,
      synapse_server_notices_system_mxid_localpart: 'notices',
      synapse_server_notices_system_mxid_display_name: 'Lab Notices',
      synapse_server_notices_room_name: 'Lab Notices',
      synapse_server_notices_auto_join: true,
      synapse_consent_version: '1.0',
      synapse_consent_policies: { '1.0': POLICY },
      synapse_consent_policy_name: jinjaLiteral(POLICY_NAME), // literal text, not Jinja for mxplay
      synapse_consent_server_notice_content: NOTICE,
      synapse_consent_template_dir: TEMPLATE_DIR,
      synapse_consent_block_events_error: 'Lab rules first: %(consent_uri)s',
      synapse_consent_send_server_notice_to_guests: true,
      synapse_server_notices_system_mxid_avatar_url: NOTICES_AVATAR,
    }, { matrix: ['cons1'] });
    // One play on a bare host: the synapse role starts Synapse only at the end of the play, once the
    // consent roles have written user_consent for the consent listener resource.
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [postgres, synapse, synapse_server_notices, synapse_consent]\n');
    await writeFile(join(project, 'consent-off.yml'), 'synapse_consent_enabled: false\nsynapse_listener_resources: [client, federation]\n');
    await writeFile(join(project, 'no-resource.yml'), 'synapse_listener_resources: [client, federation]\n');
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('a bare host converges in one play; the fragments and the policy documents are in place and Synapse answers', async () => {
    const r = await run('--yes', '--json');
    const journal = r.code === 0 ? '' : (await lab.ssh('cons1', 'journalctl -u matrix-synapse --no-pager -n 40')).stdout;
    expect(r.code, journal + r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'cons1')).toBeGreaterThan(15);
    const changes = r.json!.hosts.find((p) => p.host === 'cons1')!.changes as unknown as { id: string; role: string }[];
    expect(changes.find((c) => c.id === FRAGMENT)?.role).toBe('synapse_consent');
    expect(changes.find((c) => c.id === NOTICES)?.role).toBe('synapse_server_notices');

    const st = await lab.ssh('cons1', `cat ${FRAGMENT} ${NOTICES}; stat -c '%a %U:%G %n' ${TEMPLATES}/1.0.html ${TEMPLATES}/success.html; grep -c consent ${CONF}/listeners.yaml`);
    expect(st.stdout).toContain('role synapse_consent: owns user_consent');
    expect(st.stdout).toContain(`template_dir: ${TEMPLATE_DIR}`);
    // Guests cannot register on this server: the setting is checked as Synapse reads it.
    expect(st.stdout).toContain('send_server_notice_to_guests: true');
    expect(st.stdout).toMatch(/version: "?1\.0"?/);
    expect(st.stdout).toContain('role synapse_server_notices: owns server_notices');
    expect(st.stdout).toContain('system_mxid_localpart: notices');
    expect(st.stdout).toContain(`644 root:root ${TEMPLATES}/1.0.html`);
    expect(st.stdout).toContain(`644 root:root ${TEMPLATES}/success.html`);
    expect((await api(base(), '/_matrix/client/versions')).status).toBe(200);
    const l = await login(base(), 'admin', ADMIN_PASSWORD);
    expect(l.status, l.text).toBe(200);
    adminToken = l.json.access_token as string;
  });

  it('GET /_matrix/consent without parameters serves the public version of the policy, without the form', async () => {
    const r = await api(base(), '/_matrix/consent');
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('<h1 id="policy">Lab terms 1.0</h1>');
    // The name is hostile to the page's two readers: Synapse's Jinja2 (a tag that would compute 49)
    // and the browser (markup, quotes). The title reads back as the name itself.
    const title = /<title>([^<]*)<\/title>/.exec(r.text)?.[1] ?? '';
    expect(htmlDecode(title)).toBe(`${POLICY_NAME} 1.0`);
    expect(r.text).not.toContain('49');
    expect(r.text).not.toContain('<form');
    // A user parameter with a wrong HMAC is refused.
    const bad = await api(base(), '/_matrix/consent?u=someone&h=0000');
    expect(bad.status).toBe(403);
  });

  it('registration needs a token: refused without one and with a wrong one, accepted with one from the admin API', async () => {
    const first = await api(base(), '/_matrix/client/v3/register', { body: { username: 'nobody', password: 'e2e-user-password-1' } });
    expect(first.status, first.text).toBe(401);
    const flows = first.json.flows as { stages: string[] }[];
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) expect(f.stages).toContain('m.login.registration_token');
    // The dummy stage alone never completes a flow.
    const dummy = await api(base(), '/_matrix/client/v3/register', {
      body: { username: 'nobody', password: 'e2e-user-password-1', auth: { type: 'm.login.dummy', session: first.json.session } },
    });
    expect(dummy.status, dummy.text).toBe(401);
    expect(dummy.json.access_token).toBeUndefined();
    const wrong = await api(base(), '/_matrix/client/v3/register', {
      body: { username: 'nobody', password: 'e2e-user-password-1', auth: { type: 'm.login.registration_token', token: 'notatoken', session: first.json.session } },
    });
    expect(wrong.status, wrong.text).toBe(401);
    expect(wrong.json.access_token).toBeUndefined();
    expect(wrong.json.errcode).toBe('M_UNAUTHORIZED');

    const token = await register('alice');
    expect(token).toBeTruthy();
  });

  it('a new user is blocked with M_CONSENT_NOT_GIVEN, gets the server notice, accepts through the form and can then send', async () => {
    const alice = (await login(base(), 'alice', 'e2e-user-password-1')).json.access_token as string;
    const blocked = await api(base(), '/_matrix/client/v3/createRoom', { token: alice, body: { name: 'alice room' } });
    expect(blocked.status, blocked.text).toBe(403);
    expect(blocked.json.errcode).toBe('M_CONSENT_NOT_GIVEN');
    expect(blocked.json.error).toMatch(/^Lab rules first: https:\/\/cons1\.lab\.test\/_matrix\/consent\?u=alice&h=[0-9a-f]+$/);
    expect(blocked.json.consent_uri).toMatch(/^https:\/\/cons1\.lab\.test\/_matrix\/consent\?u=alice&h=[0-9a-f]+$/);

    // The notice arrives on sync (auto_join: the user is in the notices room).
    const notice = await eventually(async () => {
      const s = await api(base(), '/_matrix/client/v3/sync?timeout=0', { token: alice });
      expect(s.status, s.text).toBe(200);
      const rooms = Object.values((s.json.rooms?.join ?? {}) as Record<string, { timeline: { events: { type: string; sender: string; content: { body?: string } }[] } }>);
      const msg = rooms.flatMap((r) => r.timeline.events).find((e) => e.type === 'm.room.message' && e.sender === '@notices:cons1.lab.test');
      expect(msg, s.text).toBeDefined();
      return msg!;
    }, 60_000, 1000);
    expect(notice.content.body).toContain('Please review and accept the lab terms at https://cons1.lab.test/_matrix/consent?u=alice&h=');
    const uri = /https:\/\/cons1\.lab\.test\/(_matrix\/consent\?\S+)/.exec(notice.content.body!)![1];
    // The notices user appears in its room with the name and avatar the inventory gives (its membership).
    const joined = await api(base(), '/_matrix/client/v3/joined_rooms', { token: alice });
    const members = await Promise.all((joined.json.joined_rooms as string[]).map((id) =>
      api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(id)}/state/m.room.member/${encodeURIComponent('@notices:cons1.lab.test')}`, { token: alice })));
    expect(members.filter((m) => m.status === 200).map((m) => m.json)).toEqual([expect.objectContaining({ displayname: 'Lab Notices', avatar_url: NOTICES_AVATAR })]);
    expect(uri).toBe(blocked.json.consent_uri.replace(PUBLIC_BASEURL, ''));

    // The personal link shows the form with the hidden fields Synapse checks.
    const page = await api(base(), `/${uri}`);
    expect(page.status, page.text).toBe(200);
    expect(page.text).toContain('Lab terms 1.0');
    const field = (n: string) => new RegExp(`name="${n}" value="([^"]*)"`).exec(page.text)?.[1];
    expect(field('v')).toBe('1.0');
    expect(field('u')).toBe('alice');
    expect(field('h')).toMatch(/^[0-9a-f]{64}$/);

    const post = await fetch(`${base()}/_matrix/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ v: field('v')!, u: field('u')!, h: field('h')! }).toString(),
      signal: AbortSignal.timeout(15_000),
    });
    const success = await post.text();
    expect(post.status, success).toBe(200);
    expect(success).toContain('you have accepted the Lab Terms');
    expect((await api(base(), `/${uri}`)).text).toContain('You have already accepted version 1.0');

    const room = await api(base(), '/_matrix/client/v3/createRoom', { token: alice, body: { name: 'alice room' } });
    expect(room.status, room.text).toBe(200);
    const sent = await api(base(), `/_matrix/client/v3/rooms/${encodeURIComponent(room.json.room_id)}/send/m.room.message/t1`, {
      method: 'PUT', token: alice, body: { msgtype: 'm.text', body: 'hello after consent' },
    });
    expect(sent.status, sent.text).toBe(200);
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'cons1')).toBe(0);
  });

  it('require_at_registration: registration asks for the policy (an m.login.terms stage with version 1.0)', async () => {
    const r = await run('--yes', '--json', '-e', 'synapse_consent_require_at_registration=true');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const first = await eventually(async () => {
      const x = await api(base(), '/_matrix/client/v3/register', { body: { username: 'carol', password: 'e2e-user-password-1' } });
      if (x.status !== 401) throw new Error(x.text);
      return x;
    });
    for (const f of first.json.flows as { stages: string[] }[]) expect(f.stages).toContain('m.login.terms');
    expect(first.json.params['m.login.terms'].policies.privacy_policy).toMatchObject({ version: '1.0' });
    expect(first.json.params['m.login.terms'].policies.privacy_policy.en.url).toMatch(/^https:\/\/cons1\.lab\.test\/_matrix\/consent\?v=1\.0$/);
  });

  it("the listener resource and the consent switch must agree: both mistakes are refused before anything changes", async () => {
    const missing = await run('--check', '-e', '@no-resource.yml');
    expect(missing.code, missing.stdout + missing.stderr).toBe(1);
    expect(missing.stderr).toContain("consent is enabled but the listener does not serve it");
    const stale = await run('--check', '-e', 'synapse_consent_enabled=false');
    expect(stale.code, stale.stdout + stale.stderr).toBe(1);
    expect(stale.stderr).toContain("consent is disabled but synapse_listener_resources still has 'consent'");
  });

  it('consent off removes its fragment, Synapse restarts without /_matrix/consent and a new user can send at once', async () => {
    const r = await run('--yes', '--json', '-e', '@consent-off.yml');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'cons1')!.changes;
    expect(changes.map((c) => [c.action, c.id]).sort()).toEqual([['-', FRAGMENT], ['~', `${CONF}/listeners.yaml`]].sort());
    const gone = await lab.ssh('cons1', `test -e ${FRAGMENT} && echo present || echo absent`);
    expect(gone.stdout.trim()).toBe('absent');
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);
    expect((await api(base(), '/_matrix/consent')).status).toBe(404);

    adminToken = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token as string;
    const bob = await register('bob');
    const room = await api(base(), '/_matrix/client/v3/createRoom', { token: bob, body: { name: 'bob room' } });
    expect(room.status, room.text).toBe(200);

    const again = await run('--yes', '--json', '-e', '@consent-off.yml');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'cons1')).toBe(0);
  });

  it('server notices off removes their fragment; Synapse restarts and refuses to send a notice', async () => {
    const notice = () => api(base(), '/_synapse/admin/v1/send_server_notice', {
      token: adminToken, body: { user_id: '@bob:cons1.lab.test', content: { msgtype: 'm.text', body: 'maintenance tonight' } },
    });
    const before = await notice();
    expect(before.status, before.text).toBe(200);

    const r = await run('--yes', '--json', '-e', '@consent-off.yml', '-e', 'synapse_server_notices_enabled=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.find((p) => p.host === 'cons1')!.changes.map((c) => [c.action, c.id])).toEqual([['-', NOTICES]]);
    const gone = await lab.ssh('cons1', `test -e ${NOTICES} && echo present || echo absent`);
    expect(gone.stdout.trim()).toBe('absent');
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);
    adminToken = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token as string;
    const after = await notice();
    expect(after.status, after.text).toBe(400);
    expect(after.text).toMatch(/server notices are not enabled/i);
  });
});
