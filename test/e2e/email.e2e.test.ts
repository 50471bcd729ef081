// The synapse_email role on a fresh host: Synapse (Debian's package, on PostgreSQL) relays its own
// validation mail to an SMTP sink run by this test on the control machine, over the lab bridge.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { issueCertificate, labCa } from '../lab/ca.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { startSmtpSink, type SmtpSink } from './helpers/smtp-sink.ts';
import { projectDir } from './helpers/project.ts';

const CONTROL_IP = '10.231.0.1';
const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MASTER = 'e2e-master-secret-0123456789';
const SMTP_PASS = 'e2e-smtp-password-42';
const PUBLIC_BASEURL = 'https://mail1.lab.test/';
const CLIENT_BASE_URL = 'https://chat.mail1.lab.test/';
const FRAGMENT = '/etc/matrix-synapse/conf.d/email.yaml';

describe('synapse_email role: Synapse sends its validation mail through the configured SMTP relay', () => {
  let lab: LabFixture;
  let sink: SmtpSink;
  /** Relays that require TLS (STARTTLS, or implicit) and a login, as a production relay does. */
  const tlsSinks: SmtpSink[] = [];
  let project: string;
  const base = () => `http://${lab.host('mail1').ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });

  beforeAll(async () => {
    lab = await labHosts(['mail1']);
    // After labHosts: the lab bridge (and so the control machine's address on it) exists now.
    sink = await startSmtpSink(CONTROL_IP);
    project = await projectDir('email');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_server_name: 'mail1.lab.test',
      synapse_public_baseurl: PUBLIC_BASEURL,
      synapse_admin_user: 'admin',
      synapse_admin_password: ADMIN_PASSWORD,
      synapse_bind_addresses: ['0.0.0.0'],
      synapse_email_smtp_host: CONTROL_IP,
      synapse_email_smtp_port: sink.port,
      // The sink offers neither AUTH nor STARTTLS.
      synapse_email_require_transport_security: false,
      synapse_email_enable_tls: false,
      synapse_email_notif_from: '%(app)s <noreply@mail1.lab.test>',
      synapse_email_app_name: 'LabChat',
      synapse_email_client_base_url: CLIENT_BASE_URL,
      synapse_email_validation_token_lifetime: '15m',
    }, { matrix: ['mail1'] });
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [postgres, synapse, synapse_email]\n');
  });

  afterAll(async () => {
    await sink?.close();
    for (const s of tlsSinks) await s.close();
    await lab?.stop();
  });

  it('converges postgres, synapse and synapse_email; the fragment is 0600 matrix-synapse (its user alone) and Synapse answers', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'mail1')).toBeGreaterThan(10);
    const email = r.json!.hosts.find((p) => p.host === 'mail1')!.changes.find((c) => c.id === FRAGMENT);
    expect(email, 'email fragment in the plan').toBeDefined();
    expect((email as unknown as { role: string }).role).toBe('synapse_email');

    const st = await lab.ssh('mail1', `stat -c '%a %U:%G' ${FRAGMENT} && cat ${FRAGMENT}`);
    expect(st.stdout).toContain('600 matrix-synapse:root');
    expect(st.stdout).toContain('role synapse_email: owns email');
    expect(st.stdout).toContain(`smtp_host: ${CONTROL_IP}`);
    expect(st.stdout).toContain(`smtp_port: ${sink.port}`);
    expect((await api(base(), '/_matrix/client/versions')).status).toBe(200);
  });

  it('Synapse mails the validation link for a new address to the sink, From: notif_from', async () => {
    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token as string;
    expect(token).toBeTruthy();
    const clientSecret = `e2esecret${Date.now()}`;
    const req = await api(base(), '/_matrix/client/v3/account/3pid/email/requestToken', {
      token,
      body: { client_secret: clientSecret, email: 'someone@example.org', send_attempt: 1 },
    });
    expect(req.status, req.text).toBe(200);
    expect(req.json.sid).toBeTruthy();

    const mail = await sink.waitFor((m) => m.to.includes('someone@example.org'), 60_000);
    expect(mail.to).toEqual(['someone@example.org']);
    expect(mail.from).toBe('noreply@mail1.lab.test');
    expect(mail.headers.from).toBe('LabChat <noreply@mail1.lab.test>');
    expect(mail.headers.to).toContain('someone@example.org');
    // The link to confirm the address points at Synapse's public base URL, for this session.
    const link = new RegExp(`${PUBLIC_BASEURL.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\S*submit_token\\S*`).exec(mail.text)?.[0];
    expect(link, mail.text).toBeTruthy();
    expect(link).toContain(`client_secret=${clientSecret}`);
    expect(link).toContain(`sid=${req.json.sid}`);
    // Synapse's own validation template (the subject names the server, not app_name).
    expect(mail.headers.subject).toBe('[mail1.lab.test] Validate your email');
    expect(mail.helo).toBeTruthy();
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'mail1')).toBe(0);
  });

  it('open-email registration: no account without a verified address; the mailed link verifies it and registration succeeds', async () => {
    const r = await run('--yes', '--json', '-e', 'synapse_registration=open-email');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.find((p) => p.host === 'mail1')!.changes.map((c) => c.id)).toEqual(['/etc/matrix-synapse/conf.d/registration.yaml']);
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);

    const first = await api(base(), '/_matrix/client/v3/register', { body: { username: 'carol', password: 'e2e-user-password-1' } });
    expect(first.status, first.text).toBe(401);
    const flows = first.json.flows as { stages: string[] }[];
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) expect(f.stages).toContain('m.login.email.identity');
    const session = first.json.session as string;
    const dummy = await api(base(), '/_matrix/client/v3/register', { body: { auth: { type: 'm.login.dummy', session } } });
    expect(dummy.status, dummy.text).toBe(401);
    expect(dummy.json.access_token).toBeUndefined();

    const clientSecret = `e2ereg${Date.now()}`;
    const req = await api(base(), '/_matrix/client/v3/register/email/requestToken', {
      body: { client_secret: clientSecret, email: 'carol@example.org', send_attempt: 1 },
    });
    expect(req.status, req.text).toBe(200);
    const mail = await sink.waitFor((m) => m.to.includes('carol@example.org'), 60_000);
    const link = /https:\/\/mail1\.lab\.test\/(\S*submit_token\S*)/.exec(mail.text)?.[1];
    expect(link, mail.text).toBeTruthy();
    const creds = { sid: req.json.sid as string, client_secret: clientSecret };
    // Not yet verified: the email stage does not complete.
    const early = await api(base(), '/_matrix/client/v3/register', { body: { auth: { type: 'm.login.email.identity', threepid_creds: creds, session } } });
    expect(early.status, early.text).toBe(401);
    expect(early.json.access_token).toBeUndefined();

    const click = await api(base(), `/${link!.replace(/&amp;/g, '&')}`);
    expect(click.status, click.text).toBe(200);
    let done = await api(base(), '/_matrix/client/v3/register', { body: { auth: { type: 'm.login.email.identity', threepid_creds: creds, session } } });
    if (done.status === 401 && !done.json.errcode) {
      done = await api(base(), '/_matrix/client/v3/register', { body: { auth: { type: 'm.login.dummy', session } } });
    }
    expect(done.status, done.text).toBe(200);
    expect(done.json.user_id).toBe('@carol:mail1.lab.test');

    // Back to the inventory's mode (invite-token) for the tests below.
    const back = await run('--yes', '--json');
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(changedOf(back, 'mail1')).toBe(1);
  });

  it('open-email registration without the email role configured is refused before anything changes', async () => {
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e', '--check', '-e', 'synapse_registration=open-email', '-e', 'synapse_email_enabled=false'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/host mail1, role synapse, key synapse_registration: .*open-email registration sends a verification mail/);
  });

  it('an SMTP login in --check: the fragment change is planned with the password masked, nothing changed', async () => {
    const r = await run('--check', '--detailed-exitcode', '--diff', '-e', 'synapse_email_smtp_user=synapse', '-e', `synapse_email_smtp_pass=${SMTP_PASS}`);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain(`~ yaml ${FRAGMENT}`);
    expect(r.stdout).toMatch(/\+\s+smtp_pass: "?\*{8}"?/);
    expect(r.stdout).toContain('+  smtp_user: synapse');
    expect(r.stdout + r.stderr).not.toContain(SMTP_PASS);
    const file = await lab.ssh('mail1', `cat ${FRAGMENT}`);
    expect(file.stdout).not.toContain('smtp_user');
  });

  it('a relay that requires STARTTLS and AUTH gets the mail over TLS (a lab-CA certificate, the CA given through ca_trust) after a login; implicit TLS (force_tls) too', async () => {
    const cert = await issueCertificate(['smtp.lab.test']);
    const auth = { user: 'synapse', pass: SMTP_PASS };
    const starttls = await startSmtpSink(CONTROL_IP, 0, { auth, tls: { cert: cert.certPem, key: cert.keyPem, mode: 'starttls' } });
    const implicit = await startSmtpSink(CONTROL_IP, 0, { auth, tls: { cert: cert.certPem, key: cert.keyPem, mode: 'implicit' } });
    tlsSinks.push(starttls, implicit);
    // The relay's name, as DNS would give it (outside the lab's managed block of /etc/hosts).
    expect((await lab.ssh('mail1', `grep -q ' smtp.lab.test$' /etc/hosts || echo '${CONTROL_IP} smtp.lab.test' >> /etc/hosts`)).code).toBe(0);
    const vars = join(project, 'tls-vars.yml');
    const settings = {
      ca_trust_certificates: { 'mxplay-lab': (await labCa()).certPem },
      synapse_email_smtp_host: 'smtp.lab.test',
      synapse_email_smtp_port: starttls.port,
      synapse_email_smtp_user: 'synapse',
      synapse_email_smtp_pass: SMTP_PASS,
      synapse_email_require_transport_security: true,
      synapse_email_enable_tls: true,
      synapse_email_enable_notifs: true,
    };
    await writeFile(vars, stringify(settings));
    await writeFile(join(project, 'tls.yml'), '- hosts: matrix\n  roles: [ca_trust, postgres, synapse, synapse_email]\n');
    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token as string;
    const mailTo = async (relay: SmtpSink, email: string) => {
      const req = await api(base(), '/_matrix/client/v3/account/3pid/email/requestToken', { token, body: { client_secret: `tls${Date.now()}`, email, send_attempt: 1 } });
      expect(req.status, req.text).toBe(200);
      return relay.waitFor((m) => m.to.includes(email), 60_000);
    };

    const r = await mxplay(['run', 'tls.yml', '-i', 'e2e', '--yes', '--json', '-e', `@${vars}`], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(SMTP_PASS);
    const viaStarttls = await mailTo(starttls, 'tls@example.org');
    expect(viaStarttls).toMatchObject({ tls: true, authUser: 'synapse', from: 'noreply@mail1.lab.test' });
    expect(starttls.authFailures).toEqual([]);
    expect(sink.messages.some((m) => m.to.includes('tls@example.org'))).toBe(false);
    // Notification mails on: Synapse's own setting, as written (it mails only after hours of unread messages).
    expect((await lab.ssh('mail1', `grep -c '^  enable_notifs: true$' ${FRAGMENT}`)).stdout.trim()).toBe('1');

    const forced = await mxplay(['run', 'tls.yml', '-i', 'e2e', '--yes', '--json', '-e', `@${vars}`, '-e', `{synapse_email_force_tls: true, synapse_email_smtp_port: ${implicit.port}}`], { cwd: project });
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    const viaImplicit = await mailTo(implicit, 'implicit@example.org');
    expect(viaImplicit).toMatchObject({ tls: true, authUser: 'synapse' });
  });

  it('synapse_email_enabled false removes the fragment, restarts Synapse, and Synapse still answers', async () => {
    const pidBefore = (await lab.ssh('mail1', 'systemctl show -p MainPID --value matrix-synapse')).stdout.trim();
    const r = await run('--yes', '--json', '-e', 'synapse_email_enabled=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'mail1')!.changes;
    expect(changes.map((c) => [c.action, c.id])).toEqual([['-', FRAGMENT]]);
    const res = r.json!.results.find((x) => x.host === 'mail1') as unknown as { changed: number; handlers: string[] };
    expect(res.changed).toBe(1);
    expect(res.handlers).toEqual(['restart synapse if its config changed']);

    const gone = await lab.ssh('mail1', `test -e ${FRAGMENT} && echo present || echo absent; systemctl show -p MainPID --value matrix-synapse`);
    expect(gone.stdout.split('\n')[0]).toBe('absent');
    expect(gone.stdout.split('\n')[1]).not.toBe(pidBefore);
    // The run waited for Synapse's health after its restart: one request, no poll.
    const versions = await api(base(), '/_matrix/client/versions');
    expect(versions.status, versions.text).toBe(200);

    // Without email, Synapse no longer offers to validate addresses itself.
    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token as string;
    const req = await api(base(), '/_matrix/client/v3/account/3pid/email/requestToken', {
      token,
      body: { client_secret: `e2eoff${Date.now()}`, email: 'other@example.org', send_attempt: 1 },
    });
    expect(req.status, req.text).toBe(400);
    expect(req.json.errcode).toBe('M_THREEPID_MEDIUM_NOT_SUPPORTED');
    expect(sink.messages.filter((m) => m.to.includes('other@example.org'))).toEqual([]);

    const again = await run('--yes', '--json', '-e', 'synapse_email_enabled=false');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'mail1')).toBe(0);
  });
});
