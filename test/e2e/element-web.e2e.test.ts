// Element web and synapse-admin from release tarballs, served by nginx (web1) and apache (web2) on
// fresh lab hosts, converged with the repository's playbooks/site.yml and checked from the control
// machine over TLS trusting only each host's lab CA. The tarballs are fixtures built here (an
// index.html naming its version): one served over HTTP from the control machine on the lab bridge,
// the others uploaded from local paths. No Synapse: the apps are static files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_IP, labHosts, type LabFixture } from '../lab/index.ts';
import { curl } from './helpers/https.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const HOSTS = [
  { name: 'web1', proxy: 'nginx' },
  { name: 'web2', proxy: 'apache' },
] as const;
type HostName = (typeof HOSTS)[number]['name'];
const element = (h: HostName) => `element.${h}.lab.test`;
const admin = (h: HostName) => `admin.${h}.lab.test`;
const matrix = (h: HostName) => `matrix.${h}.lab.test`;
const DIR = '/var/www/element';
const CA_DIR = '/etc/ssl/mxplay-selfsigned';

/** An index.html big enough that a torn read would show, naming its version. */
const indexHtml = (v: string) => `<!doctype html><title>Element ${v}</title>\n<!-- ${'x'.repeat(64 * 1024)} -->\n`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Element web and synapse-admin from release tarballs behind nginx and apache', () => {
  let lab: LabFixture;
  let project: string;
  let server: Server;
  let baseUrl: string;
  const fetched: string[] = []; // paths the lab hosts fetched from the control machine
  const tarballs: Record<string, { path: string; sha: string }> = {};
  const seconds: Record<string, number> = {};
  const ca = (h: HostName) => join(project, `${h}-ca.crt`);
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', '--yes', '--json', ...args], { cwd: project });
  const get = (h: HostName, url: string) => curl(url, { ip: lab.host(h).ip, ca: ca(h) });
  const result = (r: CliResult, h: HostName) => r.json!.results.find((x) => x.host === h)!;
  let varsFiles = 0;
  /** `-e @file`: values as YAML strings, whatever they look like. */
  const extra = async (vars: Record<string, unknown>) => {
    const p = join(project, `extra-${++varsFiles}.yml`);
    await writeFile(p, Object.entries(vars).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n') + '\n');
    return ['-e', `@${p}`];
  };
  const elementRelease = (version: string, tarball: string, sha: string) =>
    extra({ element_web_version: version, element_web_tarball: tarball, element_web_sha256: sha });

  /** A release tarball with one top folder, like upstream's: index.html, version, a bundle. */
  async function buildTarball(stem: string, top: string, files: Record<string, string>) {
    const src = join(project, 'src', stem);
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(src, top, rel, '..'), { recursive: true });
      await writeFile(join(src, top, rel), text);
    }
    const path = join(project, 'dl', `${stem}.tar.gz`);
    execFileSync('tar', ['-czf', path, '-C', src, top]);
    tarballs[stem] = { path, sha: sha256(await readFile(path)) };
  }

  beforeAll(async () => {
    project = await projectDir('web');
    await mkdir(join(project, 'dl'));
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) {
      await buildTarball(`element-v${v}`, `element-v${v}`, { 'index.html': indexHtml(v), version: `${v}\n`, [`bundles/${v}/app.js`]: `// ${v}\n` });
    }
    await buildTarball('synapse-admin-0.10.3', 'synapse-admin-0.10.3', { 'index.html': '<!doctype html><title>Synapse-Admin 0.10.3</title>\n' });

    // The control machine as a download server, on the lab bridge (the lab hosts' only network).
    server = createServer((req, res) => {
      const file = join(project, 'dl', (req.url ?? '').replace(/^\/+/, ''));
      fetched.push(req.url ?? '');
      if (!req.url?.endsWith('.tar.gz') || !existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'application/gzip' });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((ok) => server.listen(0, GATEWAY_IP, ok));
    baseUrl = `http://${GATEWAY_IP}:${(server.address() as AddressInfo).port}`;

    lab = await labHosts(HOSTS.map((h) => h.name));
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {
      proxy_tls_self_signed: true,
      element_web_version: '1.0.0',
      element_web_tarball: `${baseUrl}/element-v1.0.0.tar.gz`,
      element_web_sha256: tarballs['element-v1.0.0']!.sha,
      element_brand: 'Lab Chat',
      jitsi_domain: 'jitsi.lab.test',
      element_room_directory_servers: ['lab.test', 'matrix.org'],
      synapse_admin_version: '0.10.3',
      synapse_admin_tarball: tarballs['synapse-admin-0.10.3']!.path,
      synapse_admin_sha256: tarballs['synapse-admin-0.10.3']!.sha,
    }, { element_web: ['web1', 'web2'], synapse_admin: ['web1', 'web2'], nginx: ['web1'], apache: ['web2'] });
    await mkdir(join(inv, 'host_vars'));
    for (const { name: h } of HOSTS) {
      await writeFile(join(inv, 'host_vars', `${h}.yml`), [
        `synapse_server_name: ${h}.lab.test`,
        `synapse_public_baseurl: https://${matrix(h)}/`,
        `element_domain: ${element(h)}`,
        `synapse_admin_domain: ${admin(h)}`,
        // mxplay verify: names at the hosts' lab addresses, the host's own lab CA trusted.
        'mxplay_verify_resolve: inventory',
        `mxplay_verify_ca_file: ${JSON.stringify(ca(h))}`,
        '',
      ].join('\n'));
    }
    // The repository's own playbook: the apps' plays come before the proxies'.
    await copyFile(new URL('../../playbooks/site.yml', import.meta.url), join(project, 'site.yml'));
  });

  afterAll(async () => {
    if (Object.keys(seconds).length) console.log('element-web e2e timings (s):', JSON.stringify(seconds));
    server?.close();
    await lab?.stop();
  });

  it('converges Element web (fetched by URL) and synapse-admin (uploaded) behind nginx and apache from bare hosts', async () => {
    const t0 = Date.now();
    const r = await run();
    seconds.firstRun = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Each host fetched the URL itself, once.
    expect(fetched.filter((p) => p === '/element-v1.0.0.tar.gz')).toHaveLength(2);
    for (const { name: h, proxy } of HOSTS) {
      expect(result(r, h).handlers).toContain(`reload ${proxy}`);
      const caPem = await lab.ssh(h, `cat ${CA_DIR}/ca.crt`);
      expect(caPem.stdout).toContain('BEGIN CERTIFICATE');
      await writeFile(ca(h), caPem.stdout);
    }
  });

  it("Element's /config.json through the proxy names the homeserver, brand, Jitsi and room directory; index.html is the release's", async () => {
    for (const { name: h } of HOSTS) {
      const config = await get(h, `https://${element(h)}/config.json`);
      expect(config.status, config.body).toBe(200);
      expect(config.headers['content-type']).toMatch(/^application\/json/);
      expect(config.headers['cache-control']).toBe('no-cache');
      expect(config.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(config.json).toEqual({
        default_server_config: { 'm.homeserver': { base_url: `https://${matrix(h)}`, server_name: `${h}.lab.test` } },
        brand: 'Lab Chat',
        disable_guests: true,
        disable_custom_urls: false,
        show_labs_settings: false,
        room_directory: { servers: ['lab.test', 'matrix.org'] },
        jitsi: { preferred_domain: 'jitsi.lab.test' },
      });
      const index = await get(h, `https://${element(h)}/`);
      expect(index.status).toBe(200);
      expect(index.body).toBe(indexHtml('1.0.0'));
      expect((await get(h, `https://${element(h)}/bundles/1.0.0/app.js`)).body).toBe('// 1.0.0\n');
      // The unpacked tree is root's, readable by the web server, and the top folder is gone.
      const tree = await lab.ssh(h, `readlink ${DIR}/current; stat -c '%U %a' ${DIR}/current/index.html; ls ${DIR}/versions`);
      expect(tree.stdout).toBe(`versions/1.0.0\nroot 644\n1.0.0\n1.0.0.sha256\n`);
      // Plain HTTP redirects to HTTPS on the app's name too.
      const plain = await curl(`http://${element(h)}/config.json`, { ip: lab.host(h).ip });
      expect(plain.status).toBe(301);
      expect(plain.headers.location).toBe(`https://${element(h)}/config.json`);
      // An unknown name still lands on the Matrix host (the default vhost), which serves no '/'.
      const other = await lab.ssh(h, `curl -sk -o /dev/null -w '%{http_code}' --resolve other.lab.test:443:127.0.0.1 https://other.lab.test/`);
      expect(other.stdout).toBe('404');
    }
  });

  it('synapse-admin is closed by default: refused (403) from the control machine, served to the host itself', async () => {
    for (const { name: h } of HOSTS) {
      expect((await get(h, `https://${admin(h)}/`)).status).toBe(403);
      expect((await get(h, `https://${admin(h)}/config.json`)).status).toBe(403);
      const local = await lab.ssh(h, `curl -sS --cacert ${CA_DIR}/ca.crt --resolve ${admin(h)}:443:127.0.0.1 https://${admin(h)}/ https://${admin(h)}/config.json`);
      expect(local.stdout).toBe(`<!doctype html><title>Synapse-Admin 0.10.3</title>\n{\n  "restrictBaseUrl": "https://${matrix(h)}"\n}\n`);
    }
  });

  it('a second run reports 0 changed on both hosts', async () => {
    const t0 = Date.now();
    const r = await run();
    seconds.secondRun = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    for (const { name: h } of HOSTS) expect(changedOf(r, h)).toBe(0);
  });

  it("mxplay verify reads Element's config.json as the web client does, and says so when its homeserver is wrong", async () => {
    // Only the web apps' checks: these hosts run no Synapse behind their proxies.
    const verify = () => mxplay(['verify', 'site.yml', '-i', 'e2e', '-t', 'element_web,synapse_admin'], { cwd: project });
    const ok = await verify();
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    for (const { name: h } of HOSTS) {
      const esc = (x: string) => x.replaceAll('.', '\\.');
      expect(ok.stdout).toMatch(new RegExp(`OK +Element web's config\\.json +https://${esc(element(h))}/config\\.json\\s+(→ )?200, homeserver https://${esc(matrix(h))}\n`));
      expect(ok.stdout).toMatch(new RegExp(`OK +synapse-admin +https://${esc(admin(h))}/\\s+(→ )?403: this machine is not in synapse_admin_allow_networks`));
    }
    await lab.ssh('web1', `sed -i 's|https://${matrix('web1')}|https://old.example.org|' /var/www/element/config.json`);
    const broken = await verify();
    expect(broken.code, broken.stdout + broken.stderr).toBe(1);
    expect(broken.stdout).toMatch(new RegExp(`FAILED +Element web's config\\.json +https://${element('web1').replaceAll('.', '\\.')}/config\\.json\\s+(→ )?base_url is https://old\\.example\\.org, wanted https://${matrix('web1').replaceAll('.', '\\.')}\n`));
    expect(broken.stdout).toMatch(/1 of 4 checks failed on 1 host\(s\)\./);
    // The next run puts it back (and the test after this one starts from a converged host).
    const r = await run('--limit', 'web1');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'web1')).toBe(1);
    expect((await verify()).code).toBe(0);
  });

  it('switching to 2.0.0 (a local tarball) is atomic: requests during the run see 1.0.0 then 2.0.0, never an error or a torn page', async () => {
    const loops = HOSTS.flatMap(({ name: h }) => [0, 1].map(() => requestLoop(h)));
    const t0 = Date.now();
    const r = await run(...await elementRelease('2.0.0', tarballs['element-v2.0.0']!.path, tarballs['element-v2.0.0']!.sha));
    seconds.switchRun = (Date.now() - t0) / 1000;
    for (const l of loops) l.stopAfter(20);
    const answers = await Promise.all(loops.map((l) => l.done));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const seen of answers) {
      // Every answer is one whole version; per client, 1.0.0 until the switch and 2.0.0 from then on.
      const bad = seen.filter((a) => a !== '1.0.0' && a !== '2.0.0');
      expect(bad, `bad answers: ${bad.slice(0, 3).join(' | ')}`).toEqual([]);
      const first2 = seen.indexOf('2.0.0');
      expect(seen.slice(0, first2).every((a) => a === '1.0.0') && seen.slice(first2).every((a) => a === '2.0.0'), seen.join(',')).toBe(true);
      expect(first2).toBeGreaterThan(0); // the loop did run before the switch
    }
    seconds.requestsDuringSwitch = answers.reduce((n, a) => n + a.length, 0);
    for (const { name: h } of HOSTS) {
      const state = await lab.ssh(h, `readlink ${DIR}/current; ls -A ${DIR}/versions; ls -A ${DIR}`);
      // The link names the new version; the old one is kept (keep 2); no temp folder or link left.
      expect(state.stdout).toBe('versions/2.0.0\n1.0.0\n1.0.0.sha256\n2.0.0\n2.0.0.sha256\nconfig.json\ncurrent\nversions\n');
      // The config is not in the versioned tree: the new version is served with it.
      expect((await get(h, `https://${element(h)}/config.json`)).json.brand).toBe('Lab Chat');
    }
  });

  it('a wrong sha256 fails with a clear error before unpacking, and 2.0.0 stays served', async () => {
    const v3 = `${baseUrl}/element-v3.0.0.tar.gz`;
    const wrong = tarballs['element-v2.0.0']!.sha;
    const r = await run(...await elementRelease('3.0.0', v3, wrong));
    expect(r.code).toBe(1);
    for (const { name: h } of HOSTS) {
      const res = result(r, h);
      expect(res.status).toBe('failed');
      expect(res.message).toContain(`release ${DIR}: failed with exit 1:\nsha256 mismatch for ${v3}: got ${tarballs['element-v3.0.0']!.sha}, expected ${wrong}; nothing was unpacked or switched`);
      expect((await get(h, `https://${element(h)}/`)).body).toBe(indexHtml('2.0.0'));
      expect((await lab.ssh(h, `readlink ${DIR}/current; ls -A ${DIR}/versions`)).stdout).toBe('versions/2.0.0\n1.0.0\n1.0.0.sha256\n2.0.0\n2.0.0.sha256\n');
    }

    // A local tarball is checked on the control machine: an input error, no host touched.
    const local = await run(...await elementRelease('3.0.0', tarballs['element-v3.0.0']!.path, wrong));
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('nothing was changed on any host');
    expect(local.stderr).toContain(`host web1, role element_web, key element_web_sha256: tarball ${tarballs['element-v3.0.0']!.path} has sha256 ${tarballs['element-v3.0.0']!.sha}, not the expected ${wrong}`);
  });

  it('the right sha256 installs 3.0.0 and removes 1.0.0 (keep 2); then a run reports 0 changed', async () => {
    const v3 = await elementRelease('3.0.0', `${baseUrl}/element-v3.0.0.tar.gz`, tarballs['element-v3.0.0']!.sha);
    const r = await run(...v3);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const { name: h } of HOSTS) {
      const change = r.json!.hosts.find((p) => p.host === h)!.changes.find((c) => c.type === 'release');
      expect(change?.summary).toMatch(/^install 3\.0\.0 from .*, switch current versions\/2\.0\.0 → versions\/3\.0\.0, remove old 1\.0\.0$/);
      expect((await get(h, `https://${element(h)}/`)).body).toBe(indexHtml('3.0.0'));
      expect((await lab.ssh(h, `ls -A ${DIR}/versions`)).stdout).toBe('2.0.0\n2.0.0.sha256\n3.0.0\n3.0.0.sha256\n');
    }
    const again = await run(...v3);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const { name: h } of HOSTS) expect(changedOf(again, h)).toBe(0);
  });

  it('element_web_keep_versions 1 removes the previous version (3.0.0 stays served); synapse_admin_keep_versions 1 keeps its one; then 0 changed', async () => {
    const keepOne = [
      ...(await elementRelease('3.0.0', `${baseUrl}/element-v3.0.0.tar.gz`, tarballs['element-v3.0.0']!.sha)),
      ...(await extra({ element_web_keep_versions: 1, synapse_admin_keep_versions: 1 })),
    ];
    const r = await run(...keepOne);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const { name: h } of HOSTS) {
      const changes = r.json!.hosts.find((p) => p.host === h)!.changes.filter((c) => c.type === 'release');
      expect(changes.map((c) => c.summary)).toEqual([expect.stringMatching(/remove old 2\.0\.0$/)]);
      expect((await get(h, `https://${element(h)}/`)).body).toBe(indexHtml('3.0.0'));
      expect((await lab.ssh(h, `ls -A ${DIR}/versions`)).stdout).toBe('3.0.0\n3.0.0.sha256\n');
    }
    const again = await run(...keepOne);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const { name: h } of HOSTS) expect(changedOf(again, h)).toBe(0);
  });

  it('synapse-admin with an allow list: served to the control machine, refused (403) to the host\'s own address; a second run reports 0 changed', async () => {
    const allow = await extra({ synapse_admin_allow_networks: [`${GATEWAY_IP}/32`] });
    const r = await run(...allow);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const { name: h, proxy } of HOSTS) {
      expect(result(r, h).handlers).toContain(`reload ${proxy}`);
      const page = await get(h, `https://${admin(h)}/`);
      expect(page.status).toBe(200);
      expect(page.body).toBe('<!doctype html><title>Synapse-Admin 0.10.3</title>\n');
      expect((await get(h, `https://${admin(h)}/config.json`)).json).toEqual({ restrictBaseUrl: `https://${matrix(h)}` });
      // From the host to its own lab address: not loopback, not in the list.
      const ip = lab.host(h).ip;
      const own = await lab.ssh(h, `curl -sS -o /dev/null -w '%{http_code}' --cacert ${CA_DIR}/ca.crt --resolve ${admin(h)}:443:${ip} https://${admin(h)}/`);
      expect(own.stdout).toBe('403');
      // Element is not restricted by it.
      const el = await lab.ssh(h, `curl -sS -o /dev/null -w '%{http_code}' --cacert ${CA_DIR}/ca.crt --resolve ${element(h)}:443:${ip} https://${element(h)}/`);
      expect(el.stdout).toBe('200');
    }
    const again = await run(...allow);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const { name: h } of HOSTS) expect(changedOf(again, h)).toBe(0);
  });

  /**
   * Clients asking for / over one kept-alive TLS connection each, back to back, until told to stop
   * (a number of requests after the call): the version each answer is, or what was wrong with it.
   */
  function requestLoop(h: HostName) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(ca(h)) });
    const pages = new Map(['1.0.0', '2.0.0'].map((v) => [indexHtml(v), v]));
    let left = Infinity;
    const seen: string[] = [];
    const once = () => new Promise<string>((resolve) => {
      const req = request({ host: lab.host(h).ip, servername: element(h), port: 443, path: '/', headers: { host: element(h) }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve(res.statusCode === 200 ? (pages.get(body) ?? `torn page (${body.length} bytes)`) : `status ${res.statusCode}`);
        });
      });
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    const done = (async () => {
      while (left-- > 0) seen.push(await once());
      agent.destroy();
      return seen;
    })();
    return { done, stopAfter: (n: number) => (left = n) };
  }
});
