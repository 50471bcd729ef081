// The jitsi role with Docker from Debian, behind nginx on one fresh lab host and Apache on
// another, converged by the real CLI. The lab reaches no image registry, so the role runs against
// STAND-IN images (busybox, see helpers/jitsi-stand-ins.ts) imported on each host under the names
// its compose file uses, with pull_policy never: what is proven is the role's part (Docker,
// compose project, .env, secrets, validation, which containers are recreated) and the proxy's
// (TLS vhost, websockets), not Jitsi itself.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveSecret } from '../../src/secrets/secrets.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { curl } from './helpers/https.ts';
import { importStandInImages, STAND_IN_SERVICES } from './helpers/jitsi-stand-ins.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const MASTER = 'e2e-master-secret-0123456789';
const HOSTS = [
  { name: 'jit1', proxy: 'nginx', vhost: '/etc/nginx/conf.d/mxplay-web-jitsi.conf' },
  { name: 'jit2', proxy: 'apache', vhost: '/etc/apache2/sites-enabled/mxplay-web-jitsi.conf' },
] as const;
type HostName = (typeof HOSTS)[number]['name'];
const IMAGES = { repo: 'standin.lab.test/jitsi', tag: 'e2e' };
const DIR = '/srv/jitsi';
const CA = '/etc/ssl/mxplay-selfsigned/ca.crt';
/** The component passwords the role derives for a host from the inventory's master secret. */
const passwords = (h: string) => ({
  jicofo: deriveSecret(MASTER, `${h}:jitsi_jicofo_auth_password`),
  jvb: deriveSecret(MASTER, `${h}:jitsi_jvb_auth_password`),
});

const meet = (h: HostName) => `meet.${h}.lab.test`;
const matrix = (h: HostName) => `matrix.${h}.lab.test`;

describe('jitsi role with stand-in images (busybox, imported on the host) behind nginx and apache, on two fresh hosts', () => {
  let lab: LabFixture;
  let project: string;
  const seconds: Record<string, number> = {};
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  const result = (r: CliResult, h: HostName) => r.json!.results.find((x) => x.host === h)!;
  const get = (h: HostName, url: string, headers: Record<string, string> = {}) =>
    curl(url, { ip: lab.host(h).ip, ca: join(project, `${h}-ca.crt`), headers });
  /** service → container ID of the compose project. */
  const containers = async (h: HostName) => {
    const r = await lab.ssh(h, `cd ${DIR} && docker compose ps -a --format '{{.Service}} {{.ID}} {{.State}}'`);
    expect(r.code, r.stderr).toBe(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')).map(([s, id, state]) => [s!, { id: id!, state: state! }]));
  };

  beforeAll(async () => {
    lab = await labHosts(HOSTS.map((h) => h.name), { docker: true });
    project = await projectDir('jitsi');
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {
      mxplay_master_secret: MASTER,
      proxy_tls_self_signed: true,
      proxy_serve_jitsi: true,
      jitsi_image_repo: IMAGES.repo,
      jitsi_image_tag: IMAGES.tag,
      jitsi_pull_policy: 'never',
    }, { jitsi: ['jit1', 'jit2'], nginx: ['jit1'], apache: ['jit2'] });
    await mkdir(join(inv, 'host_vars'));
    for (const { name } of HOSTS) {
      await writeFile(join(inv, 'host_vars', `${name}.yml`), [
        `synapse_server_name: ${name}.lab.test`,
        `synapse_public_baseurl: https://${matrix(name)}/`,
        `jitsi_domain: ${meet(name)}`,
        '',
      ].join('\n'));
    }
    await writeFile(join(project, 'site.yml'), [
      '- name: Jitsi Meet', '  hosts: jitsi', '  roles: [jitsi]',
      '- name: Reverse proxy (nginx)', '  hosts: nginx', '  roles: [nginx]',
      '- name: Reverse proxy (apache)', '  hosts: apache', '  roles: [apache]', '',
    ].join('\n'));
  });

  afterAll(async () => {
    if (Object.keys(seconds).length) console.log('jitsi e2e timings (s):', JSON.stringify(seconds));
    await lab?.stop();
  });

  it('--check on bare hosts plans Docker, the compose project and the Jitsi vhost, with the component passwords masked', async () => {
    const r = await run('--check', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      const changes = r.json!.hosts.find((p) => p.host === h.name)!.changes;
      const byId = (id: string) => changes.find((c) => c.id === id);
      expect(byId('docker.io,docker-compose')?.action).toBe('+');
      expect(byId(`${DIR}/docker-compose.yml`)?.action).toBe('+');
      expect(changes.find((c) => c.type === 'directory' && c.id === DIR)?.summary).toBe('create (0750 root:root)');
      expect(byId(`${DIR}/config/storage/prosody`)?.summary).toBe('create (0750 1000:1000)');
      // Known only once Docker and the files are there.
      expect(changes.find((c) => c.type === 'docker_compose')?.action).toBe('?');
      expect(byId(h.vhost)?.action).toBe('+');
      const env = byId(`${DIR}/.env`)!.after!;
      expect(env).toContain(`PUBLIC_URL='https://${meet(h.name)}'`);
      expect(env).toContain("JICOFO_AUTH_PASSWORD='********'");
      expect(env).toContain("JVB_AUTH_PASSWORD='********'");
    }
    for (const h of HOSTS) for (const pw of Object.values(passwords(h.name))) expect(r.stdout + r.stderr).not.toContain(pw);
  });

  it('stand-in images are imported on each host under the names the compose file uses', async () => {
    const took = await Promise.all(HOSTS.map((h) => importStandInImages(lab, h.name, { ...IMAGES, webPort: 8000 })));
    HOSTS.forEach((h, i) => (seconds[`stand-ins ${h.name}`] = took[i]!));
    for (const h of HOSTS) {
      const images = await lab.ssh(h.name, `docker images --format '{{.Repository}}:{{.Tag}}' '${IMAGES.repo}/*'`);
      expect(images.stdout.trim().split('\n').sort()).toEqual(STAND_IN_SERVICES.map((s) => `${IMAGES.repo}/${s}:${IMAGES.tag}`).sort());
    }
  });

  it('converges: the four services run, .env is private, the storage folders belong to the containers\' user', async () => {
    const t0 = Date.now();
    const r = await run('--yes', '--json');
    seconds.firstRunWall = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      // The lab CA, the only certificate the proxy checks below trust.
      const ca = await lab.ssh(h.name, `cat ${CA}`);
      expect(ca.stdout).toContain('BEGIN CERTIFICATE');
      await writeFile(join(project, `${h.name}-ca.crt`), ca.stdout);

      expect(changedOf(r, h.name)).toBeGreaterThan(15);
      expect(result(r, h.name).handlers).toEqual(expect.arrayContaining(['docker compose up jitsi', `reload ${h.proxy}`]));

      const running = await containers(h.name);
      expect(Object.keys(running).sort()).toEqual([...STAND_IN_SERVICES].sort());
      for (const s of STAND_IN_SERVICES) expect(running[s]!.state, s).toBe('running');

      const files = await lab.ssh(h.name, `stat -c '%a %U %n' ${DIR} ${DIR}/.env ${DIR}/docker-compose.yml; stat -c '%a %u:%g %n' ${DIR}/config/storage/*; systemctl is-enabled docker`);
      expect(files.stdout.trim().split('\n')).toEqual([
        `750 root ${DIR}`, `600 root ${DIR}/.env`, `644 root ${DIR}/docker-compose.yml`,
        ...['prosody', 'transcripts', 'web'].map((s) => `750 1000:1000 ${DIR}/config/storage/${s}`),
        'enabled',
      ]);
      // Each service gets the values it reads from .env, the derived passwords included.
      const env = await lab.ssh(h.name, "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' jitsi-jvb-1 jitsi-jicofo-1");
      expect(env.stdout).toContain('JVB_PORT=10000');
      expect(env.stdout).toContain(`JVB_AUTH_PASSWORD=${passwords(h.name).jvb}`);
      expect(env.stdout).toContain(`JICOFO_AUTH_PASSWORD=${passwords(h.name).jicofo}`);
    }
  });

  it('the proxy serves the Jitsi name over HTTPS from the web container, websockets included, and redirects HTTP', async () => {
    for (const { name: h } of HOSTS) {
      const page = await get(h, `https://${meet(h)}/SomeRoom?lang=en`);
      expect(page.status, page.body).toBe(200);
      // The web container's own answer: it was started with PUBLIC_URL from .env.
      expect(page.body).toContain(`stand-in jitsi/web for https://${meet(h)}\nGET /SomeRoom?lang=en HTTP/1.1`);
      expect(page.body).toMatch(new RegExp(`^Host: ${meet(h).replaceAll('.', '\\.')}$`, 'm'));
      expect(page.body).toMatch(/^X-Forwarded-Proto: https$/m);
      expect(page.body).toMatch(/^X-Forwarded-For: 10\.231\.0\.1$/m);

      for (const path of ['/xmpp-websocket?room=someroom', '/colibri-ws/default-id/123/abc?pwd=x']) {
        const ws = await get(h, `https://${meet(h)}${path}`, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' });
        expect(ws.status, `${h} ${path}: ${ws.body}`).toBe(101);
        expect(ws.headers.upgrade?.toLowerCase()).toBe('websocket');
        // What the container received through the tunnel: the upgrade request itself.
        expect(ws.body).toContain(`stand-in jitsi/web tunnel for GET ${path} HTTP/1.1`);
        expect(ws.body).toMatch(/^Upgrade: websocket$/im);
      }

      const plain = await curl(`http://${meet(h)}/SomeRoom`, { ip: lab.host(h).ip });
      expect(plain.status).toBe(301);
      expect(plain.headers.location).toBe(`https://${meet(h)}/SomeRoom`);
    }
  });

  it(".well-known/matrix/client tells Element the Jitsi domain", async () => {
    for (const { name: h } of HOSTS) {
      const client = await get(h, `https://${matrix(h)}/.well-known/matrix/client`);
      expect(client.status, client.body).toBe(200);
      expect(client.json['im.vector.riot.jitsi']).toEqual({ preferredDomain: meet(h) });
    }
  });

  it('a second run reports 0 changed on both hosts', async () => {
    const t0 = Date.now();
    const r = await run('--yes', '--json');
    seconds.secondRunWall = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    for (const h of HOSTS) {
      expect(changedOf(r, h.name)).toBe(0);
      expect(result(r, h.name).handlers).toEqual([]);
    }
  });

  it('a changed JVB port recreates only the jvb container, which publishes the new port', async () => {
    const before = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h.name, await containers(h.name)] as const)));
    const r = await run('--yes', '--json', '-e', 'jitsi_jvb_port=10001');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      const changes = r.json!.hosts.find((p) => p.host === h.name)!.changes;
      expect(changes.map((c) => c.id)).toEqual([`${DIR}/.env`]);
      expect(changes[0]!.after).toContain("JVB_PORT='10001'");
      expect(result(r, h.name).handlers).toEqual(['docker compose up jitsi']);

      const after = await containers(h.name);
      for (const s of STAND_IN_SERVICES) {
        expect(after[s]!.state, s).toBe('running');
        if (s === 'jvb') expect(after[s]!.id, s).not.toBe(before[h.name]![s]!.id);
        else expect(after[s]!.id, s).toBe(before[h.name]![s]!.id);
      }
      const port = await lab.ssh(h.name, 'docker port jitsi-jvb-1');
      expect(port.stdout).toContain('10001/udp -> 0.0.0.0:10001');
    }
    const again = await run('--yes', '--json', '-e', 'jitsi_jvb_port=10001');
    for (const h of HOSTS) expect(changedOf(again, h.name)).toBe(0);
    // Back to the inventory's port for the tests below.
    const back = await run('--yes', '--json');
    expect(back.code, back.stdout + back.stderr).toBe(0);
  });

  it('a compose file that docker compose rejects is refused: the old files stay and no container is touched', async () => {
    const before = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h.name, await containers(h.name)] as const)));
    const sums = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h.name, (await lab.ssh(h.name, `sha256sum ${DIR}/docker-compose.yml ${DIR}/.env`)).stdout] as const)));
    const bad = join(project, 'bad.yml');
    // Valid for the role's schema (free-form compose keys), not for compose; the .env changes too.
    await writeFile(bad, 'jitsi_service_options: { jvb: { mem_limit: lots } }\njitsi_timezone: Europe/Berlin\n');
    const r = await run('--yes', '--json', '-e', `@${bad}`);
    expect(r.code).toBe(1);
    for (const h of HOSTS) {
      const res = result(r, h.name);
      expect(res.status).toBe('failed');
      expect(res.message).toContain(`validation failed (cd ${DIR} && docker compose config -q)`);
      expect(res.message).toContain("'services[jvb].mem_limit' invalid size: 'lots'");
      expect(res.message).toMatch(/previous files were restored; nothing was restarted/);
      expect(changedOf(r, h.name)).toBe(0);

      expect((await lab.ssh(h.name, `sha256sum ${DIR}/docker-compose.yml ${DIR}/.env`)).stdout).toBe(sums[h.name]);
      expect(await containers(h.name)).toEqual(before[h.name]);
      expect((await get(h.name, `https://${meet(h.name)}/`)).status).toBe(200);
    }
    const again = await run('--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const h of HOSTS) {
      expect(changedOf(again, h.name)).toBe(0);
      expect(result(again, h.name).handlers).toEqual([]);
    }
  });

  it('a container removed by hand is planned as "up: create" and is back after the next run', async () => {
    for (const h of HOSTS) await lab.ssh(h.name, 'docker rm -f jitsi-web-1');
    const check = await run('--check', '--json');
    for (const h of HOSTS) {
      const changes = check.json!.hosts.find((p) => p.host === h.name)!.changes;
      expect(changes).toEqual([expect.objectContaining({ type: 'docker_compose', id: DIR, action: '~', summary: 'up: create web' })]);
    }
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      expect(changedOf(r, h.name)).toBe(1);
      expect((await containers(h.name)).web?.state).toBe('running');
    }
  });
});
