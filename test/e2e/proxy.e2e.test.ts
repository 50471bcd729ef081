// The nginx and apache roles in front of Synapse, each on its own fresh lab host, converged by
// `mxplay run` and checked from the control machine over real TLS, as a client or a federating
// server would: by name (SNI and Host through curl --resolve), trusting only the host's lab CA.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { curl, type HttpAnswer } from './helpers/https.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const MASTER = 'e2e-master-secret-0123456789';
const HOSTS = [
  { name: 'px-ng', proxy: 'nginx', check: 'nginx -t', conf: '/etc/nginx/conf.d/mxplay-matrix.conf', defaultSite: '/etc/nginx/sites-enabled/default' },
  { name: 'px-ap', proxy: 'apache', check: 'apache2ctl configtest', conf: '/etc/apache2/sites-enabled/mxplay-matrix.conf', defaultSite: '/etc/apache2/sites-enabled/000-default.conf' },
] as const;
type HostName = (typeof HOSTS)[number]['name'];

const base = (h: HostName) => `${h}.lab.test`; // synapse_server_name: the base domain
const matrix = (h: HostName) => `matrix.${h}.lab.test`; // the client API's virtual host
const CA_DIR = '/etc/ssl/mxplay-selfsigned';

describe('nginx and apache reverse proxies in front of Synapse, on two fresh hosts', () => {
  let lab: LabFixture;
  let project: string;
  const seconds: Record<string, number> = {};
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  const ca = (h: HostName) => join(project, `${h}-ca.crt`);
  /** A request by name to the host, trusting only its own lab CA. */
  const get = (h: HostName, url: string, o: { headers?: Record<string, string>; dataFile?: string; method?: string } = {}) =>
    curl(url, { ip: lab.host(h).ip, ca: ca(h), ...o });
  const result = (r: CliResult, h: HostName) => r.json!.results.find((x) => x.host === h)!;

  beforeAll(async () => {
    lab = await labHosts(HOSTS.map((h) => h.name));
    project = await projectDir('proxy');
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      // Small, so that one request over the limit is cheap to send; Synapse and the proxy share it.
      synapse_max_upload_size: '1M',
      proxy_tls_self_signed: true,
      proxy_serve_base_domain: true,
    }, { matrix: ['px-ng', 'px-ap'], nginx: ['px-ng'], apache: ['px-ap'] });
    await mkdir(join(inv, 'host_vars'));
    for (const { name } of HOSTS) {
      // mxplay verify: names at the hosts' lab addresses (no DNS here), the host's own lab CA trusted.
      await writeFile(join(inv, 'host_vars', `${name}.yml`), [
        `synapse_server_name: ${base(name)}`, `synapse_public_baseurl: https://${matrix(name)}/`,
        'mxplay_verify_resolve: inventory', `mxplay_verify_ca_file: ${JSON.stringify(join(project, `${name}-ca.crt`))}`, '',
      ].join('\n'));
    }
    // The shape proposed for playbooks/site.yml: the proxy is chosen by the inventory's groups.
    await writeFile(join(project, 'site.yml'), [
      '- name: Matrix homeserver', '  hosts: matrix', '  roles: [postgres, synapse]',
      '- name: Reverse proxy (nginx)', '  hosts: nginx', '  roles: [nginx]',
      '- name: Reverse proxy (apache)', '  hosts: apache', '  roles: [apache]', '',
    ].join('\n'));
    // A body just over synapse_max_upload_size, and one well under it.
    await writeFile(join(project, 'big.bin'), Buffer.alloc(1024 * 1024 + 4096, 7));
    await writeFile(join(project, 'small.bin'), Buffer.alloc(1000, 7));
  });

  afterAll(async () => {
    if (Object.keys(seconds).length) console.log('proxy e2e timings (s):', JSON.stringify(seconds));
    await lab?.stop();
  });

  it('--check on bare hosts plans the distro default site as known only after the package', async () => {
    const r = await run('--check', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      const changes = r.json!.hosts.find((p) => p.host === h.name)!.changes;
      const site = changes.find((c) => c.id === h.defaultSite);
      expect(site?.action).toBe('?');
      expect(site?.summary).toMatch(/not installed yet; known after apt/);
      expect(changes.find((c) => c.id === h.conf)?.action).toBe('+');
    }
  });

  it('converges [postgres, synapse, nginx] and [postgres, synapse, apache] from bare hosts', async () => {
    const t0 = Date.now();
    const r = await run('--yes', '--json');
    seconds.firstRunWall = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      expect(changedOf(r, h.name)).toBeGreaterThan(20);
      seconds[`converge ${h.name}`] = (result(r, h.name) as unknown as { seconds: number }).seconds;
      // The distro's default site, there once the package was installed: removed in the same run.
      const plan = r.json!.hosts.find((p) => p.host === h.name)!;
      expect(plan.changes.find((c) => c.id === h.defaultSite)?.action).toBe('-');
      const handlers = (result(r, h.name) as unknown as { handlers: string[] }).handlers;
      expect(handlers).toContain(`reload ${h.proxy}`);

      const state = await lab.ssh(h.name, `test -e ${h.defaultSite} && echo default-site || echo no-default-site; stat -c '%a %n' ${CA_DIR}/*.key ${CA_DIR}/ca.crt`);
      expect(state.stdout).toContain('no-default-site');
      for (const line of state.stdout.trim().split('\n').slice(1)) expect(line).toMatch(line.endsWith('.key') ? /^600 / : /^644 /);
      // The lab CA, the only certificate the checks below trust.
      const caPem = await lab.ssh(h.name, `cat ${CA_DIR}/ca.crt`);
      expect(caPem.stdout).toContain('BEGIN CERTIFICATE');
      await writeFile(ca(h.name), caPem.stdout);
    }
  });

  it('serves the client API from Synapse over TLS: encoded slashes, real client address, upload limit', async () => {
    for (const { name: h } of HOSTS) {
      const versions = await get(h, `https://${matrix(h)}/_matrix/client/versions?probe=e2e-${h}`, { headers: { 'X-Forwarded-For': '203.0.113.66' } });
      expect(versions.status, versions.body).toBe(200);
      expect(versions.json.versions).toContain('v1.1');

      // %2F stays encoded on its way to Synapse (apache: AllowEncodedSlashes NoDecode + nocanon).
      const alias = await get(h, `https://${matrix(h)}/_matrix/client/v3/directory/room/%23a%2Fb:${base(h)}`);
      expect(alias.status, alias.body).toBe(404);
      expect(alias.json).toMatchObject({ errcode: 'M_NOT_FOUND', error: `Room alias #a/b:${base(h)} not found` });

      // Synapse logs the real client (the control machine on the lab bridge), neither the proxy's
      // own address nor the X-Forwarded-For the client tried to smuggle in.
      const log = await lab.ssh(h, `grep -h 'probe=e2e-${h}' /var/log/matrix-synapse/homeserver.log | tail -n1`);
      expect(log.stdout).toMatch(/- 10\.231\.0\.1 - /);
      expect(log.stdout).not.toContain('203.0.113.66');

      // Over synapse_max_upload_size: turned away by the proxy (Synapse would answer 401 JSON first).
      const big = await get(h, `https://${matrix(h)}/_matrix/media/v3/upload`, { dataFile: join(project, 'big.bin'), headers: { 'Content-Type': 'application/octet-stream' } });
      expect(big.status).toBe(413);
      expect(big.json).toBeUndefined();
      const small = await get(h, `https://${matrix(h)}/_matrix/media/v3/upload`, { dataFile: join(project, 'small.bin'), headers: { 'Content-Type': 'application/octet-stream' } });
      expect(small.status).toBe(401);
      expect(small.json.errcode).toBe('M_MISSING_TOKEN');

      // Not exposed unless asked for.
      expect((await get(h, `https://${matrix(h)}/_synapse/admin/v1/server_version`)).status).toBe(404);
    }
  });

  it('publishes .well-known/matrix/{server,client} on the base domain as CORS-open JSON, and federation follows it', async () => {
    const wellKnown = (a: HttpAnswer) => {
      expect(a.status, a.body).toBe(200);
      expect(a.headers['content-type']).toBe('application/json');
      expect(a.headers['access-control-allow-origin']).toBe('*');
      return a.json;
    };
    for (const { name: h } of HOSTS) {
      const server = wellKnown(await get(h, `https://${base(h)}/.well-known/matrix/server`));
      expect(server).toEqual({ 'm.server': `${matrix(h)}:443` });
      const client = wellKnown(await get(h, `https://${base(h)}/.well-known/matrix/client`));
      expect(client).toEqual({ 'm.homeserver': { base_url: `https://${matrix(h)}` } });
      expect((await get(h, `https://${base(h)}/.well-known/matrix/support`)).status).toBe(404); // no contacts given
      expect((await get(h, `https://${base(h)}/`)).status).toBe(404); // the base domain serves nothing else

      // What a federating server does with the delegation: its keys name the base domain.
      const [host, port] = server['m.server'].split(':');
      const keys = await get(h, `https://${host}:${port}/_matrix/key/v2/server`);
      expect(keys.status, keys.body).toBe(200);
      expect(keys.json.server_name).toBe(base(h));
    }
  });

  it('redirects plain HTTP to HTTPS on every name, keeping path and query', async () => {
    for (const { name: h } of HOSTS) {
      for (const [name, path] of [[matrix(h), '/_matrix/client/versions?x=1'], [base(h), '/.well-known/matrix/server']] as const) {
        const r = await curl(`http://${name}${path}`, { ip: lab.host(h).ip });
        expect(r.status).toBe(301);
        expect(r.headers.location).toBe(`https://${name}${path}`);
      }
    }
  });

  it('a second run reports 0 changed on both hosts', async () => {
    const t0 = Date.now();
    const r = await run('--yes', '--json');
    seconds.secondRunWall = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    for (const h of HOSTS) expect(changedOf(r, h.name)).toBe(0);
  });

  it('mxplay verify checks both proxies from here as clients and federating servers do: every check passes', async () => {
    const r = await mxplay(['verify', 'site.yml', '-i', 'e2e', '--json'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { format: string; ok: boolean; results: { host: string; what: string; ok: boolean; detail: string }[] };
    expect(report.format).toBe('mxplay-verify/1');
    for (const { name: h, proxy } of HOSTS) {
      const mine = report.results.filter((x) => x.host === h);
      expect(mine.map((x) => x.what)).toEqual([
        `Matrix client API via ${proxy}`, 'plain http redirects to https', 'client discovery: .well-known/matrix/client',
        'delegation: .well-known/matrix/server', 'federation, as other servers find it',
      ]);
      expect(mine.filter((x) => !x.ok)).toEqual([]);
      // Federation went through the delegation to the Matrix name, and the keys name the server.
      expect(mine.find((x) => x.what.startsWith('federation'))!.detail).toMatch(new RegExp(`^\\.well-known → ${matrix(h).replaceAll('.', '\\.')}:443: Synapse [\\d.]+.*, key ed25519:`));
    }
    const text = await mxplay(['verify', 'site.yml', '-i', 'e2e'], { cwd: project });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^px-ng\n  OK +Matrix client API via nginx +https:\/\/matrix\.px-ng\.lab\.test\/_matrix\/client\/versions\s+(→ )?200, spec versions/m);
    expect(text.stdout).toMatch(/10 checks passed on 2 hosts\.\n$/);
  });

  it('verify fails saying what broke when .well-known/matrix/server points elsewhere, and run --verify repairs it', async () => {
    const h = 'px-ng';
    await lab.ssh(h, `printf '%s' '{"m.server": "wrong.example:443"}' > /var/www/matrix-well-known/server`);
    const r = await mxplay(['verify', 'site.yml', '-i', 'e2e', '--limit', h], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAILED +delegation: \.well-known\/matrix\/server +https:\/\/px-ng\.lab\.test\/\.well-known\/matrix\/server\s+(→ )?m\.server is "wrong\.example:443", wanted matrix\.px-ng\.lab\.test:443/);
    // Federation follows the wrong delegation, as another server would, and says where it went.
    expect(r.stdout).toMatch(/FAILED +federation, as other servers find it +px-ng\.lab\.test \(federation\)\s+(→ )?\.well-known → wrong\.example:443: .*wrong\.example/);
    expect(r.stdout).toMatch(/2 of 5 checks failed on 1 host\(s\)\./);

    const fixed = await mxplay(['run', 'site.yml', '-i', 'e2e', '--limit', h, '--yes', '--verify'], { cwd: project });
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/changed=1/);
    expect(fixed.stdout).toMatch(/5 checks passed on 1 host\./);
  });

  it('options take effect as soon as the run returns: federation on 8448, admin API behind an allow list, support, Jitsi', async () => {
    const opts = join(project, 'options.yml');
    await writeFile(opts, [
      'proxy_federation_port: 8448',
      'proxy_synapse_admin: true',
      "proxy_synapse_admin_allow: ['127.0.0.1', '::1']",
      'jitsi_domain: jitsi.lab.test',
      "proxy_support_contacts: [{ matrix_id: '@admin:lab.test', email_address: 'admin@lab.test' }]",
      'proxy_support_page: https://lab.test/help?topic=matrix&lang=en',
      '',
    ].join('\n'));
    const r = await run('--yes', '--json', '-e', `@${opts}`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      expect((result(r, h.name) as unknown as { handlers: string[] }).handlers).toContain(`reload ${h.proxy}`);
      // No sleep: the handler waited until the reloaded configuration was the live one.
      const fed = await get(h.name, `https://${matrix(h.name)}:8448/_matrix/federation/v1/version`);
      expect(fed.status, fed.body).toBe(200);
      expect(fed.json.server.name).toBe('Synapse');
      expect((await get(h.name, `https://${base(h.name)}/.well-known/matrix/server`)).json).toEqual({ 'm.server': `${matrix(h.name)}:8448` });
      expect((await get(h.name, `https://${base(h.name)}/.well-known/matrix/client`)).json['im.vector.riot.jitsi']).toEqual({ preferredDomain: 'jitsi.lab.test' });
      const support = await get(h.name, `https://${base(h.name)}/.well-known/matrix/support`);
      expect(support.headers['access-control-allow-origin']).toBe('*');
      expect(support.json).toEqual({
        contacts: [{ role: 'm.role.admin', matrix_id: '@admin:lab.test', email_address: 'admin@lab.test' }],
        support_page: 'https://lab.test/help?topic=matrix&lang=en',
      });
      // Refused from the control machine, proxied from the host itself.
      expect((await get(h.name, `https://${matrix(h.name)}/_synapse/admin/v1/server_version`)).status).toBe(403);
      const local = await lab.ssh(h.name, `curl -sS --cacert ${CA_DIR}/ca.crt --resolve ${matrix(h.name)}:443:127.0.0.1 https://${matrix(h.name)}/_synapse/admin/v1/server_version`);
      expect(local.stdout).toContain('server_version');
    }

    // And back: the listener on 8448 is gone as soon as the run returns.
    const back = await run('--yes', '--json');
    expect(back.code, back.stdout + back.stderr).toBe(0);
    for (const h of HOSTS) {
      await expect(get(h.name, `https://${matrix(h.name)}:8448/_matrix/federation/v1/version`)).rejects.toThrow(/connect/i);
      expect((await get(h.name, `https://${matrix(h.name)}/_synapse/admin/v1/server_version`)).status).toBe(404);
    }
  });

  it("a vhost var the server's own check rejects fails the host with the checker's message; the old config keeps serving", async () => {
    const confs = Object.fromEntries(await Promise.all(HOSTS.map(async (h) =>
      [h.name, (await lab.ssh(h.name, `sha256sum ${h.conf}`)).stdout] as const)));
    const bad = join(project, 'bad.yml');
    // Valid for the roles' schemas (free text), not for the servers.
    await writeFile(bad, 'nginx_vhost_extra: "this_is_not_a_directive on;"\napache_vhost_extra: "ThisIsNotADirective on"\n');
    const r = await run('--yes', '--json', '-e', `@${bad}`);
    expect(r.code).toBe(1);
    const messages = {
      'px-ng': /unknown directive "this_is_not_a_directive" in \/etc\/nginx\/conf\.d\/mxplay-matrix\.conf/,
      'px-ap': /Invalid command 'ThisIsNotADirective'/,
    };
    for (const h of HOSTS) {
      const res = result(r, h.name);
      expect(res.status).toBe('failed');
      expect(res.message).toContain(`validation failed (${h.check})`);
      expect(res.message).toMatch(messages[h.name]);
      expect(res.message).toMatch(/previous files were restored; nothing was restarted/);
      expect(changedOf(r, h.name)).toBe(0);

      // Right after: the previous vhost answers, from the previous file, with nothing left pending.
      const versions = await get(h.name, `https://${matrix(h.name)}/_matrix/client/versions`);
      expect(versions.status).toBe(200);
      expect(versions.json.versions).toContain('v1.1');
      expect((await get(h.name, `https://${base(h.name)}/.well-known/matrix/server`)).json).toEqual({ 'm.server': `${matrix(h.name)}:443` });
      const after = await lab.ssh(h.name, `sha256sum ${h.conf}; cat /var/lib/mxplay/pending-handlers 2>/dev/null; true`);
      expect(after.stdout.trim()).toBe(confs[h.name]!.trim());
    }

    // The next good run has nothing left to do.
    const again = await run('--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const h of HOSTS) expect(changedOf(again, h.name)).toBe(0);
  });
});
