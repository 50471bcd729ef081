// Synapse's workers across three fresh lab hosts, as the seed how-to's scalable architecture:
// PostgreSQL and Redis on one host, the main process and nginx on another, and a third host running
// a generic worker for sync and client reads, a federation sender and a media repository. One
// `mxplay run` converges them from bare; a real Matrix client (matrix-js-sdk) then logs in, creates
// a room, sends, syncs and moves media through the proxy over TLS, and each worker's own log shows
// that it served its part.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { eventually } from './helpers/matrix.ts';
import { labFetch, loggedInClient, type LabEndpoint } from './helpers/matrix-client.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';
import { pypiIndex } from './helpers/pypi-index.ts';
import { setWorkers as writeWorkers, switchProxy, writeWorkersProject, WORKERS_MATRIX as MATRIX, WORKERS_SERVER as SERVER, type WorkerDecl as Worker } from './helpers/workers-lab.ts';

const MASTER = 'e2e-workers-master-secret-0123456789';
const ADMIN_PASSWORD = 'e2e-admin-password-1';
const DB_PASSWORD = 'db "pass" \\ word #1';
const CA_DIR = '/etc/ssl/mxplay-selfsigned';

const SYNC = { name: 'sync1', type: 'generic', serves: ['client_sync', 'client_reads'], port: 8083 };
const FED = { name: 'fed1', type: 'federation_sender' };
const MEDIA = { name: 'media1', type: 'media_repository', port: 8085 };

describe('Synapse workers across three hosts, with Redis and a remote PostgreSQL', () => {
  let lab: LabFixture;
  let project: string;
  let pypi: { url: string; close(): Promise<void> };
  let ep: LabEndpoint;
  const ip = (h: string) => lab.host(h).ip;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'inventory', '--yes', '--json', ...args], { cwd: project });
  const ok = (r: CliResult) => expect(r.code, r.stdout + r.stderr).toBe(0);
  const sh = async (h: string, cmd: string) => (await lab.ssh(h, cmd)).stdout.trim();
  const mainPids = async () => ({
    main: await sh('wkmain', 'systemctl show -p MainPID --value matrix-synapse'),
    ...Object.fromEntries(await Promise.all(['sync1', 'fed1', 'media1'].map(async (w) => [w, await sh('wkwork', `systemctl show -p MainPID --value matrix-synapse-worker@${w}`)]))),
  });
  /** The worker host's declaration, rewritten between runs as an admin edits host_vars. */
  const setWorkers = (workers: Worker[]) => writeWorkers(project, 'wkwork', workers);
  /** Request lines a worker logged (to the journal: workers have no log file of their own). */
  const workerLog = (w: string, since: string) => sh('wkwork', `journalctl -u matrix-synapse-worker@${w} --since '${since}' --no-pager -o cat | grep 'Processed request' || true`);
  const mainLog = (since: string) => sh('wkmain', `awk -v s='${since}' '$0 >= s' /var/log/matrix-synapse/homeserver.log | grep 'Processed request' || true`);
  const hostTime = (h: string) => sh(h, "date -u '+%Y-%m-%d %H:%M:%S'");

  beforeAll(async () => {
    lab = await labHosts(['wkdb', 'wkmain', 'wkwork']);
    pypi = await pypiIndex(); // on the lab bridge: after the hosts
    project = await projectDir('workers');
    // The repository's own playbooks/site.yml: groups database, redis, synapse and nginx.
    await writeWorkersProject(lab, project, { db: 'wkdb', main: 'wkmain', work: 'wkwork' }, {
      masterSecret: MASTER,
      dbPassword: DB_PASSWORD,
      pypiUrl: pypi.url,
      vars: { synapse_admin_user: 'admin', synapse_admin_password: ADMIN_PASSWORD },
    });
    await setWorkers([SYNC, FED, MEDIA]);
  });

  afterAll(async () => {
    await Promise.allSettled([lab?.stop(), pypi?.close()]);
  });

  it('one run converges the three hosts from bare, and a second run reports 0 changed on every host', async () => {
    const first = await run();
    ok(first);
    for (const h of ['wkdb', 'wkmain', 'wkwork']) expect(changedOf(first, h)).toBeGreaterThan(3);
    const second = await run();
    ok(second);
    for (const h of ['wkdb', 'wkmain', 'wkwork']) expect(changedOf(second, h), `${h}: ${JSON.stringify(second.json?.hosts.find((p) => p.host === h))}`).toBe(0);
    ep = { baseUrl: `https://${MATRIX}`, ip: ip('wkmain'), ca: await sh('wkmain', `cat ${CA_DIR}/ca.crt`) };
  });

  it('units and files are as Debian admins expect: one unit per worker, the main unit off on the worker host', async () => {
    expect(await sh('wkwork', 'systemctl is-active matrix-synapse-worker@sync1 matrix-synapse-worker@fed1 matrix-synapse-worker@media1 matrix-synapse.target')).toBe('active\nactive\nactive\nactive');
    expect(await sh('wkwork', 'systemctl is-enabled matrix-synapse; systemctl is-active matrix-synapse || true')).toBe('disabled\ninactive');
    expect(await sh('wkwork', 'ls /etc/matrix-synapse/workers')).toBe('fed1.yaml\nmedia1.yaml\nsync1.yaml');
    // The same shared fragments on both Synapse hosts.
    const sums = 'cd /etc/matrix-synapse/conf.d && sha256sum *.yaml';
    expect(await sh('wkwork', sums)).toBe(await sh('wkmain', sums));
    // Secrets are Synapse's user's alone, the signing key too, the same on both hosts.
    expect(await sh('wkwork', 'stat -c "%a %U" /etc/matrix-synapse/conf.d/workers.yaml /etc/matrix-synapse/homeserver.signing.key')).toBe('600 matrix-synapse\n600 matrix-synapse');
    const key = 'sha256sum < /etc/matrix-synapse/homeserver.signing.key';
    expect(await sh('wkwork', key)).toBe(await sh('wkmain', key));
  });

  /** The client flow of a user: login, a room, messages, sync, media up and down. */
  async function clientFlow(tag: string) {
    const client = await loggedInClient(ep, 'admin', ADMIN_PASSWORD);
    const { room_id: roomId } = await client.createRoom({ name: `workers ${tag}` });
    for (let i = 1; i <= 3; i++) await client.sendTextMessage(roomId, `${tag} message ${i}`);
    // A real sync loop (the client's own /sync requests) until the messages are in its timeline.
    await client.startClient({ initialSyncLimit: 10 });
    try {
      await eventually(async () => {
        const texts = client.getRoom(roomId)?.getLiveTimeline().getEvents().map((e) => e.getContent().body) ?? [];
        expect(texts).toEqual(expect.arrayContaining([`${tag} message 1`, `${tag} message 3`]));
      }, 60_000);
    } finally {
      client.stopClient();
    }
    expect((await client.getJoinedRooms()).joined_rooms).toContain(roomId);
    const bytes = Buffer.from(`media of ${tag} ${'x'.repeat(4096)}`);
    const { content_uri: mxc } = await client.uploadContent(bytes, { type: 'application/octet-stream', name: `${tag}.bin` });
    const [server, mediaId] = mxc.slice('mxc://'.length).split('/');
    const res = await labFetch(ep)(`${ep.baseUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`, { headers: { authorization: `Bearer ${client.getAccessToken()}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    return { mediaId: mediaId! };
  }

  it('a real client logs in, sends, syncs and moves media through the proxy: sync and media were served by the workers, not the main process', async () => {
    const since = await hostTime('wkwork');
    const mainSince = await hostTime('wkmain');
    const { mediaId } = await clientFlow('nginx');
    const sync = await workerLog('sync1', since);
    expect(sync).toMatch(/GET \/_matrix\/client\/v3\/sync/);
    expect(sync).toMatch(/GET \/_matrix\/client\/v3\/joined_rooms/);
    const media = await workerLog('media1', since);
    expect(media).toMatch(/POST \/_matrix\/media\/v3\/upload/);
    expect(media).toContain(`/_matrix/client/v1/media/download/${SERVER}/${mediaId}`);
    // The file is in the media store of the worker host.
    expect(await sh('wkwork', `find /var/lib/matrix-synapse/media -name '${mediaId.slice(4)}' | wc -l`)).toBe('1');
    const main = await mainLog(mainSince);
    expect(main).toMatch(/POST \/_matrix\/client\/v3\/createRoom/); // the main process answers the rest
    expect(main).not.toMatch(/\/sync|\/media\//);
  });

  it("changing one worker's setting restarts that worker alone; a setting Synapse rejects is never swapped in and the workers keep serving", async () => {
    const before = await mainPids();
    await setWorkers([{ ...SYNC, port: 8093 }, FED, MEDIA]);
    const r = await run();
    ok(r);
    const after = await mainPids();
    expect(after.sync1).not.toBe(before.sync1);
    expect({ ...after, sync1: '' }).toEqual({ ...before, sync1: '' });
    // The proxy follows the worker to its new port.
    const since = await hostTime('wkwork');
    await clientFlow('moved');
    expect(await workerLog('sync1', since)).toMatch(/GET \/_matrix\/client\/v3\/sync/);

    const file = 'sha256sum /etc/matrix-synapse/workers/sync1.yaml';
    const sum = await sh('wkwork', file);
    await setWorkers([{ ...SYNC, port: 8093, settings: { event_cache_size: 'a lot' } }, FED, MEDIA]);
    const bad = await run();
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/sync1\.yaml/);
    expect(await sh('wkwork', file)).toBe(sum);
    expect(await mainPids()).toEqual(after);
    await clientFlow('after-rejected');
  });

  it('removing a worker stops and disables its unit and removes its file and its routes; the main process serves media again', async () => {
    await setWorkers([{ ...SYNC, port: 8093 }, FED]);
    ok(await run());
    expect(await sh('wkwork', 'systemctl is-enabled matrix-synapse-worker@media1 || true; systemctl is-active matrix-synapse-worker@media1 || true')).toBe('disabled\ninactive');
    expect(await sh('wkwork', 'test -e /etc/matrix-synapse/workers/media1.yaml && echo left || echo gone')).toBe('gone');
    expect(await sh('wkmain', 'grep -c mxplay_synapse_media /etc/nginx/conf.d/mxplay-matrix.conf || true')).toBe('0');
    const mainSince = await hostTime('wkmain');
    await clientFlow('no-media-worker');
    expect(await mainLog(mainSince)).toMatch(/POST \/_matrix\/media\/v3\/upload/);
    const again = await run();
    ok(again);
    for (const h of ['wkdb', 'wkmain', 'wkwork']) expect(changedOf(again, h)).toBe(0);
  });

  it('the same topology behind apache answers the same client flow, sync still on the worker', async () => {
    await setWorkers([{ ...SYNC, port: 8093 }, FED, MEDIA]);
    await switchProxy(project, 'nginx', 'apache');
    // The admin retires nginx by hand before Apache takes port 443.
    await lab.ssh('wkmain', 'systemctl disable --now nginx');
    ok(await run());
    const since = await hostTime('wkwork');
    await clientFlow('apache');
    expect(await workerLog('sync1', since)).toMatch(/GET \/_matrix\/client\/v3\/sync/);
    expect(await workerLog('media1', since)).toMatch(/POST \/_matrix\/media\/v3\/upload/);
  });
});
