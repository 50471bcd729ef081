// Single sign-on with OpenID Connect against a real provider. One lab host (oidchs) runs
// PostgreSQL, Synapse with the synapse_oidc role, and nginx (also serving the Hydrogen web client); a second (oidcidp) runs panva's
// oidc-provider (test/fixtures/oidc-idp) over HTTPS with a lab CA certificate, which ca_trust puts
// in oidchs's trust store. Debian's Chromium walks the whole browser flow: Synapse's SSO redirect,
// the provider's login form and consent, Synapse's callback, the client URL with a loginToken;
// the token becomes an access token through m.login.token; then the same user signs in again as
// a user would, through Hydrogen's "Log in with SSO" button. A user outside the allowed group is
// refused on Synapse's page and no token is issued. Provider name, templates, claims and the client
// secret are hostile values; the secret never shows in any output or plan file.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jinjaLiteral } from '../../src/vars/literal.ts';
import { labCa } from '../lab/ca.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { describeEvents, loadPage, startBrowser, type LabBrowser } from './helpers/browser.ts';
import { buildHydrogenRelease } from './helpers/hydrogen-release.ts';
import { httpsByName } from './helpers/https.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { idpLog, startIdp } from './helpers/oidc-idp.ts';
import { projectDir } from './helpers/project.ts';

const HS = 'oidchs';
const IDP_HOST = 'oidcidp';
const SERVER = 'oidc.test';
const MATRIX = 'matrix.oidc.test';
const IDP = 'idp.oidc.test';
const ELEMENT = 'element.oidc.test'; // Hydrogen, Element's lightweight web client, served by nginx
const CLIENT = 'https://app.oidc.test/after-sso?from=lab'; // a client page; the browser never leaves for it (stubbed)
const FRAGMENT = '/etc/matrix-synapse/conf.d/oidc.yaml';
const CALLBACK = `https://${MATRIX}/_synapse/client/oidc/callback`;

// Hostile values: quotes, markup, shell and Jinja syntax, non-ASCII; each must arrive as written.
// Printable ASCII (RFC 6749 VSCHAR), without % and + (Synapse sends it unencoded in HTTP Basic).
const CLIENT_SECRET = `cl!ent "secret" $(id) 'q' \\ &=: #x`;
const IDP_NAME = `Lab "IdP" <b>&</b> ✓`;
const ALICE_PW = `Alice's "pw" $(id) ✓`;
const ALICE_NAME = `Alice <b>O'Hara</b> & "co" {{ 7*7 }} ✓`;
const BOB_PW = 'bob-idp-pw-2';
// Synapse's Jinja, literal for mxplay: Synapse renders them with the provider's claims.
const LOCALPART = '{{ user.preferred_username | lower }}.sso';
const DISPLAY = `{{ user.name }} 'via' "SSO" #1`;

describe('synapse_oidc: single sign-on through a real OpenID Connect provider, in Chromium', () => {
  let lab: LabFixture;
  let project: string;
  let proxyCa = '';
  let labCaPem = '';
  let browser: LabBrowser | undefined;
  // The provider is set up while the first run converges Synapse (which retries a provider it
  // could not reach at its start); the browser tests wait for it.
  let idpReady: Promise<string> | undefined;
  const outputs: string[] = [];
  let secretLine = '';
  const run = async (...args: string[]) => {
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e', '--yes', ...args], { cwd: project });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const client = (path: string, o: { method?: string; token?: string; body?: unknown } = {}) =>
    httpsByName(lab.host(HS).ip, proxyCa, MATRIX, path, { ...o, timeoutMs: 30_000 });
  const sql = async (q: string) => (await lab.ssh(HS, `runuser -u postgres -- psql -At synapse -c ${JSON.stringify(q)}`)).stdout.trim();

  beforeAll(async () => {
    labCaPem = (await labCa()).certPem;
    project = await projectDir('oidc');
    // The web client, bundled now and packed as a release: the element_web role installs it like Element's.
    const release = await buildHydrogenRelease(project, 'hydrogen-lab-0.3.1');
    lab = await labHosts([HS, IDP_HOST], { aliases: { [HS]: [SERVER, MATRIX, ELEMENT], [IDP_HOST]: [IDP] } });
    idpReady = startIdp(lab, {
      host: IDP_HOST,
      name: IDP,
      caPem: labCaPem,
      client: { client_id: 'synapse-lab', client_secret: CLIENT_SECRET, redirect_uris: [CALLBACK] },
      users: [
        { username: 'alice', password: ALICE_PW, claims: { preferred_username: 'Alice', name: ALICE_NAME, email: 'alice@oidc.test', email_verified: true, groups: ['staff', 'matrix-users'] } },
        { username: 'bob', password: BOB_PW, claims: { name: 'Bob Outsider', email: 'bob@oidc.test', groups: ['staff'] } },
      ],
    });
    idpReady.catch(() => undefined); // reported by the tests that await it, not as unhandled
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: 'e2e-master-secret-oidc-0123456789',
      synapse_package_source: 'debian',
      synapse_server_name: SERVER,
      synapse_public_baseurl: `https://${MATRIX}/`,
      // Accounts come from the provider: nobody registers on Synapse itself.
      synapse_registration: 'closed',
      proxy_tls_self_signed: true,
      proxy_serve_base_domain: true, // Hydrogen finds the homeserver through .well-known on the server name
      element_domain: ELEMENT,
      element_web_version: '0.3.1-lab',
      element_web_tarball: release.tarball,
      element_web_sha256: release.sha256,
      ca_trust_certificates: { 'mxplay-lab': labCaPem },
      synapse_oidc_idp_id: 'lab',
      synapse_oidc_idp_name: jinjaLiteral(IDP_NAME),
      synapse_oidc_issuer: `https://${IDP}`,
      synapse_oidc_client_id: 'synapse-lab',
      synapse_oidc_client_secret: CLIENT_SECRET,
      synapse_oidc_scopes: ['openid', 'profile', 'email', 'groups'],
      synapse_oidc_user_mapping: jinjaLiteral({ localpart_template: LOCALPART, display_name_template: DISPLAY, email_template: '{{ user.email }}' }),
      synapse_oidc_attribute_requirements: [{ attribute: 'groups', value: 'matrix-users' }],
      synapse_oidc_client_whitelist: ['https://app.oidc.test/', `https://${ELEMENT}/`],
      // The logins all come from this machine.
      synapse_rc_login: { address: { per_second: 1, burst_count: 50 }, account: { per_second: 1, burst_count: 50 } },
    }, { matrix: [HS] });
    // The CA first, so that Synapse trusts the provider from its first start.
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [ca_trust, postgres, synapse, synapse_oidc, element_web, nginx]\n');
  });

  afterAll(async () => {
    await idpReady?.catch(() => undefined); // no set-up left talking to a host being stopped
    await browser?.close();
    await lab?.stop();
  });

  /** A fresh browser (no provider session left from another user), trusting the proxy's and the lab CA. */
  async function openBrowser(): Promise<LabBrowser> {
    expect(await idpReady, 'the IdP set-up').toBe(`https://${IDP}`);
    await browser?.close();
    browser = await startBrowser({
      hosts: { [SERVER]: lab.host(HS).ip, [MATRIX]: lab.host(HS).ip, [ELEMENT]: lab.host(HS).ip, [IDP]: lab.host(IDP_HOST).ip },
      cas: { 'oidchs proxy CA': proxyCa, 'mxplay lab CA': labCaPem },
    });
    return browser;
  }

  /** A page on which the client URL is answered by a stub (no such client runs), with every visit to it kept. */
  async function pageWithClientStub(b: LabBrowser): Promise<{ page: Page; clientVisits: string[] }> {
    const page = await b.newPage();
    const clientVisits: string[] = [];
    await page.setRequestInterception(true);
    page.on('request', (r: HTTPRequest) => {
      if (!r.url().startsWith('https://app.oidc.test/')) return void r.continue();
      clientVisits.push(r.url());
      void r.respond({ status: 200, contentType: 'text/html', body: '<!doctype html><title>client</title><p id="client">a Matrix client</p>' });
    });
    return { page, clientVisits };
  }

  /** The walk a user makes: Synapse's SSO redirect, the provider's login form, its consent page. */
  async function signIn(page: Page, user: string, password: string) {
    const start = `https://${MATRIX}/_matrix/client/v3/login/sso/redirect/oidc-lab?redirectUrl=${encodeURIComponent(CLIENT)}`;
    const opened = await loadPage(page, start);
    expect(opened?.status()).toBe(200);
    return atProvider(page, user, password);
  }

  /** At the provider: its login form, then its consent page; resolves with the answer after consent. */
  async function atProvider(page: Page, user: string, password: string) {
    expect(page.url()).toMatch(new RegExp(`^https://${IDP.replaceAll('.', '\\.')}/interaction/`));
    await page.type('#username', user);
    await page.type('#password', password);
    await Promise.all([page.waitForNavigation({ timeout: 60_000 }), page.click('#login')]);
    // The consent page names the client and the scopes Synapse asked for.
    expect(await page.$eval('#client', (e) => e.textContent)).toBe('synapse-lab asks for: openid, profile, email, groups');
    const [answer] = await Promise.all([page.waitForNavigation({ timeout: 60_000 }), page.click('#allow')]);
    return answer;
  }

  it('a bare host converges: ca_trust, PostgreSQL, Synapse with the oidc fragment (0600, checked by Synapse), nginx', async () => {
    const r = await run('--json');
    const journal = r.code === 0 ? '' : (await lab.ssh(HS, 'journalctl -u matrix-synapse --no-pager -n 40')).stdout;
    expect(r.code, journal + r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, HS)).toBeGreaterThan(15);
    const frag = r.json!.hosts.find((p) => p.host === HS)!.changes.find((c) => c.id === FRAGMENT);
    expect(frag, 'the oidc fragment in the plan').toBeDefined();
    expect((frag as unknown as { role: string }).role).toBe('synapse_oidc');

    // The fragment as Synapse reads it (PyYAML): every hostile value as written.
    const read = await lab.ssh(HS, `stat -c '%a %U' ${FRAGMENT}; head -1 ${FRAGMENT}; python3 -c 'import yaml, json, sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' ${FRAGMENT}`);
    const [mode, header, json] = read.stdout.trim().split('\n');
    expect(mode).toBe('600 matrix-synapse');
    expect(header).toBe('# managed by mxplay, role synapse_oidc: owns oidc_providers, sso');
    const conf = JSON.parse(json!);
    expect(conf.oidc_providers).toHaveLength(1);
    expect(conf.oidc_providers[0]).toMatchObject({
      idp_id: 'lab', idp_name: IDP_NAME, issuer: `https://${IDP}`, client_id: 'synapse-lab', client_secret: CLIENT_SECRET,
      scopes: ['openid', 'profile', 'email', 'groups'], attribute_requirements: [{ attribute: 'groups', value: 'matrix-users' }],
      user_mapping_provider: { config: { localpart_template: LOCALPART, display_name_template: DISPLAY, email_template: '{{ user.email }}' } },
    });
    expect(conf.sso).toEqual({ client_whitelist: ['https://app.oidc.test/', `https://${ELEMENT}/`], update_profile_information: false });

    proxyCa = (await lab.ssh(HS, 'cat /etc/ssl/mxplay-selfsigned/ca.crt')).stdout;
    expect(proxyCa).toContain('BEGIN CERTIFICATE');
    // Clients see the provider among the login flows, with its name as written.
    const flows = await client('/_matrix/client/v3/login');
    expect(flows.status, flows.text).toBe(200);
    const sso = flows.json.flows.find((f: { type: string }) => f.type === 'm.login.sso');
    expect(sso?.identity_providers).toEqual([{ id: 'oidc-lab', name: IDP_NAME }]);
  });

  it('alice (in matrix-users) signs in through the provider in Chromium; the loginToken gives her the mapped account', async () => {
    expect(proxyCa, 'the host did not converge (see the test before)').not.toBe('');
    const b = await openBrowser();
    const { page, clientVisits } = await pageWithClientStub(b);
    const answer = await signIn(page, 'alice', ALICE_PW).catch(async (e: Error) => {
      throw new Error(`${e.message}\n--- page ---\n${await page.evaluate(() => document.body.innerText).catch(() => '')}\n--- browser ---\n${describeEvents(b.events)}\n--- idp ---\n${await idpLog(lab, IDP_HOST)}`);
    });
    expect(answer?.status()).toBe(200);
    // Synapse sent the browser straight to the whitelisted client, with a login token.
    expect(clientVisits).toHaveLength(1);
    const landed = new URL(page.url());
    expect(`${landed.origin}${landed.pathname}`).toBe('https://app.oidc.test/after-sso');
    expect(landed.searchParams.get('from')).toBe('lab');
    const loginToken = landed.searchParams.get('loginToken');
    expect(loginToken).toBeTruthy();

    const login = await client('/_matrix/client/v3/login', { body: { type: 'm.login.token', token: loginToken } });
    expect(login.status, login.text).toBe(200);
    const user = `@alice.sso:${SERVER}`;
    expect(login.json.user_id).toBe(user);
    const token = login.json.access_token as string;
    const whoami = await client('/_matrix/client/v3/account/whoami', { token });
    expect(whoami.json?.user_id, whoami.text).toBe(user);
    const profile = await client(`/_matrix/client/v3/profile/${encodeURIComponent(user)}`, { token });
    expect(profile.json?.displayname, profile.text).toBe(`${ALICE_NAME} 'via' "SSO" #1`);
    const threepids = await client('/_matrix/client/v3/account/3pid', { token });
    expect(threepids.json?.threepids?.map((t: { medium: string; address: string }) => [t.medium, t.address]), threepids.text).toEqual([['email', 'alice@oidc.test']]);
    // The token is single-use.
    const again = await client('/_matrix/client/v3/login', { body: { type: 'm.login.token', token: loginToken } });
    expect(again.status, again.text).toBe(403);
    // The account is tied to the provider's subject, under Synapse's id for the provider.
    expect(await sql("select auth_provider || ' ' || external_id || ' ' || user_id from user_external_ids")).toBe(`oidc-lab alice ${user}`);
  });

  it('alice signs in again as a user would, with Hydrogen\'s "Log in with SSO" button: the same account', async () => {
    expect(proxyCa, 'the host did not converge (see the first test)').not.toBe('');
    const b = await openBrowser();
    const page = await b.newPage();
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        const shown = await page.evaluate(() => document.body.innerText).catch(() => '(page gone)');
        throw new Error(`Hydrogen SSO: ${what} failed: ${(e as Error).message}\n--- page text ---\n${shown.slice(0, 2000)}\n--- browser events ---\n${describeEvents(b.events)}`);
      }
    };
    await step('finding the homeserver from the server name', async () => {
      const res = await loadPage(page, `https://${ELEMENT}/`);
      expect(res?.status()).toBe(200);
      await page.waitForSelector('#homeserver', { timeout: 60_000 });
      // One input event for the whole name (Hydrogen looks a name up after 1 s without typing).
      await page.focus('#homeserver');
      await page.keyboard.sendCharacter(SERVER);
      await page.keyboard.press('Tab');
      // The server offers SSO: Hydrogen shows its button.
      await page.waitForSelector('.StartSSOLoginView_button', { timeout: 60_000 });
    });
    await step('the SSO button, the provider, the way back', async () => {
      await Promise.all([page.waitForNavigation({ timeout: 60_000 }), page.click('.StartSSOLoginView_button')]);
      await atProvider(page, 'alice', ALICE_PW);
      // Back in Hydrogen with the token, which it exchanges for a session: its room list.
      await page.waitForSelector('.LeftPanel .button-utility.create', { timeout: 120_000 });
    });
    const sessions = JSON.parse(await page.evaluate(() => localStorage.getItem('hydrogen_sessions_v1') ?? '[]')) as { userId: string; homeserver: string }[];
    expect(sessions.map((x) => x.userId)).toEqual([`@alice.sso:${SERVER}`]);
    expect(sessions[0]!.homeserver).toMatch(/^https:\/\/matrix\.oidc\.test\/?$/);
    // The same account as before: still one user, one external id.
    expect(await sql('select name from users order by name')).toBe(`@alice.sso:${SERVER}`);
    expect(await sql('select count(*) from user_external_ids')).toBe('1');
  });

  it('bob (not in matrix-users) is refused on Synapse\'s page; no login token, no account', async () => {
    expect(proxyCa, 'the host did not converge (see the first test)').not.toBe('');
    const b = await openBrowser();
    const { page, clientVisits } = await pageWithClientStub(b);
    await signIn(page, 'bob', BOB_PW);
    expect(page.url().startsWith(`${CALLBACK}?`), page.url()).toBe(true);
    expect(await page.evaluate(() => document.body.innerText)).toContain('You are not allowed to log in here.');
    expect(page.url()).not.toContain('loginToken');
    expect(clientVisits).toEqual([]);
    expect(await sql('select name from users order by name')).toBe(`@alice.sso:${SERVER}`);
  });

  it('a broken template is refused by Synapse\'s own check: the old fragment stays, Synapse keeps running', async () => {
    const before = await lab.ssh(HS, `sha256sum ${FRAGMENT}; systemctl show -p MainPID --value matrix-synapse`);
    const bad = JSON.stringify({ synapse_oidc_user_mapping: { localpart_template: jinjaLiteral('{{ user.preferred_username ') } });
    const r = await run('-e', bad);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    // Synapse's own words, naming the template.
    expect(r.stdout + r.stderr).toContain("Failed to parse config for module 'synapse.handlers.oidc.JinjaOidcMappingProvider'");
    expect(r.stdout + r.stderr).toContain("'user_mapping_provider', 'config', 'localpart_template'");
    const after = await lab.ssh(HS, `sha256sum ${FRAGMENT}; systemctl show -p MainPID --value matrix-synapse`);
    expect(after.stdout).toBe(before.stdout);
    // An http issuer is refused before any host is touched, naming role and key.
    const http = await run('-e', 'synapse_oidc_issuer=http://idp.oidc.test');
    expect(http.code).not.toBe(0);
    expect(http.stdout + http.stderr).toMatch(/synapse_oidc[\s\S]*synapse_oidc_issuer[\s\S]*not https/);
    expect((await lab.ssh(HS, `sha256sum ${FRAGMENT}`)).stdout).toBe(before.stdout.split('\n')[0] + '\n');
  });

  it('a second run (-vv) reports 0 changed', async () => {
    const r = await run('--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, HS)).toBe(0);
    const verbose = await run('-vv');
    expect(verbose.code, verbose.stdout + verbose.stderr).toBe(0);
    expect(verbose.stdout).toMatch(/oidchs\s+ok=\d+\s+changed=0\s+failed=0/);
  });

  it('synapse_oidc_enabled false removes the fragment and restarts Synapse: no SSO offered any more', async () => {
    // Kept before the removal: the secret as the YAML file holds it, for the check below.
    secretLine = (await lab.ssh(HS, `grep '^ *client_secret:' ${FRAGMENT}`)).stdout.trim().replace(/^client_secret:\s*/, '');
    expect(secretLine.length).toBeGreaterThan(CLIENT_SECRET.length - 1);
    const r = await run('--json', '-e', 'synapse_oidc_enabled=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.find((p) => p.host === HS)!.changes.map((c) => [c.action, c.id])).toEqual([['-', FRAGMENT]]);
    expect((await lab.ssh(HS, `test -e ${FRAGMENT} && echo present || echo absent`)).stdout.trim()).toBe('absent');
    // The run waited for Synapse's health after the restart: one request, no poll.
    const flows = await client('/_matrix/client/v3/login');
    expect(flows.status, flows.text).toBe(200);
    expect(flows.json.flows.map((f: { type: string }) => f.type)).not.toContain('m.login.sso');
  });

  it('the client secret is in no output (-vv, diffs of a removed fragment) and no plan file', async () => {
    const plan = await mxplay(['plan', 'site.yml', '-i', 'e2e', '-o', 'plan.json'], { cwd: project });
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    // The plan brings the fragment back: its full text is in the plan file, the secret masked.
    const planText = await readFile(join(project, 'plan.json'), 'utf8');
    expect(planText).toContain(FRAGMENT);
    expect(planText).toContain('client_id: synapse-lab');
    expect(secretLine, 'the secret as the file held it (see the test before)').not.toBe('');
    for (const text of [...outputs, planText]) {
      expect(text).not.toContain(CLIENT_SECRET);
      expect(text).not.toContain(secretLine);
      expect(text).not.toContain(JSON.stringify(CLIENT_SECRET).slice(1, -1));
    }
  });
});
