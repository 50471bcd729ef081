// `npm run bench:workers`: the same bounded client load through the proxy, first against a single
// Synapse process, then against a worker topology on the same three lab hosts (PostgreSQL and Redis
// on one, the main process and nginx on another, sync and client-read workers on the third).
// Reports requests per second and p50/p99 latency of syncs and sends for both, in
// bench/WORKERS.md and bench/workers.json, whichever wins: this machine has 2 cores for all hosts.
//
//   npm run bench:workers [-- --users 16 --duration 30 --send-interval 500]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labHosts } from '../test/lab/index.ts';
import { labFetch, type LabEndpoint } from '../test/e2e/helpers/matrix-client.ts';
import { mxplay } from '../test/e2e/helpers/mxplay.ts';
import { pypiIndex } from '../test/e2e/helpers/pypi-index.ts';
import { setWorkers, writeWorkersProject, WORKERS_MATRIX, WORKERS_SERVER, type WorkerDecl } from '../test/e2e/helpers/workers-lab.ts';
import { matrixLoad, type LoadUser, type MatrixLoadResult } from './matrix-load.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '16' },
    duration: { type: 'string', default: '30' },
    'send-interval': { type: 'string', default: '500' },
  },
});
const USERS = Number(args.users);
const DURATION_MS = Number(args.duration) * 1000;
const SEND_INTERVAL_MS = Number(args['send-interval']);
const HOSTS = { db: 'bwdb', main: 'bwmain', work: 'bwwork' };
const ADMIN_PASSWORD = 'bench-admin-password-1';
const USER_PASSWORD = 'bench-user-password-1';
const WORKERS: WorkerDecl[] = [
  { name: 'sync1', type: 'generic', serves: ['client_sync'], port: 8083 },
  { name: 'sync2', type: 'generic', serves: ['client_sync'], port: 8084 },
  { name: 'reads1', type: 'generic', serves: ['client_reads', 'client_send'], port: 8086 },
  { name: 'events1', type: 'stream_writer', streams: ['events'], port: 8087 },
];

const log = (s: string) => process.stderr.write(`[bench:workers] ${s}\n`);

async function main() {
  const t0 = Date.now();
  const lab = await labHosts(Object.values(HOSTS));
  const project = await mkdtemp(join(tmpdir(), 'mxplay-bench-workers-'));
  let pypi: Awaited<ReturnType<typeof pypiIndex>> | undefined;
  try {
    pypi = await pypiIndex(); // on the lab bridge: after the hosts
    const converge = async (what: string) => {
      const started = Date.now();
      const r = await mxplay(['run', 'site.yml', '-i', 'inventory', '--yes', '--json'], { cwd: project });
      if (r.code !== 0) throw new Error(`mxplay run (${what}) failed:\n${r.stdout}\n${r.stderr}`);
      log(`${what}: converged in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    };
    const project0 = { masterSecret: 'bench-workers-master-secret-0123456789', dbPassword: 'bench-db-password-1', pypiUrl: pypi.url };
    const vars = { synapse_admin_user: 'admin', synapse_admin_password: ADMIN_PASSWORD, proxy_synapse_admin: true };
    // 1. One Synapse process (the worker host stays idle).
    await writeWorkersProject(lab, project, HOSTS, { ...project0, vars, workHost: false });
    await converge('single process');
    const ep: LabEndpoint = { baseUrl: `https://${WORKERS_MATRIX}`, ip: lab.host(HOSTS.main).ip, ca: (await lab.ssh(HOSTS.main, 'cat /etc/ssl/mxplay-selfsigned/ca.crt')).stdout };
    const { users, roomId } = await prepareUsers(ep);
    const load = () => matrixLoad({ baseUrl: ep.baseUrl, address: ep.ip, ca: ep.ca, users, roomId, durationMs: DURATION_MS, sendIntervalMs: SEND_INTERVAL_MS });
    const single = await load();
    log(`single process: ${summary(single)}`);
    // 2. The same hosts, with workers.
    await writeWorkersProject(lab, project, HOSTS, { ...project0, vars });
    await setWorkers(project, HOSTS.work, WORKERS);
    await converge('workers');
    const workers = await load();
    log(`workers: ${summary(workers)}`);
    await report(single, workers, (Date.now() - t0) / 1000);
  } finally {
    await Promise.allSettled([lab.stop(), pypi?.close(), rm(project, { recursive: true, force: true })]);
  }
}

/** USERS users made with the admin API, all joined to one public room. */
async function prepareUsers(ep: LabEndpoint): Promise<{ users: LoadUser[]; roomId: string }> {
  const f = labFetch(ep);
  const call = async (method: string, path: string, token: string | undefined, body?: unknown): Promise<Record<string, any>> => {
    const r = await f(`${ep.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await r.json()) as Record<string, any>;
    // Synapse's join rate limit: wait as long as it says, then again.
    if (r.status === 429 && typeof json.retry_after_ms === 'number' && json.retry_after_ms < 60_000) {
      await new Promise((ok) => setTimeout(ok, json.retry_after_ms + 10));
      return call(method, path, token, body);
    }
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const login = async (user: string, password: string) =>
    (await call('POST', '/_matrix/client/v3/login', undefined, { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password })).access_token as string;
  const admin = await login('admin', ADMIN_PASSWORD);
  const users: LoadUser[] = [];
  for (let i = 1; i <= USERS; i++) {
    const userId = `@bench${i}:${WORKERS_SERVER}`;
    await call('PUT', `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, admin, { password: USER_PASSWORD, admin: false });
    // Synapse's default message rate limit (0.2/s, burst 10) would answer most sends with 429.
    await call('POST', `/_synapse/admin/v1/users/${encodeURIComponent(userId)}/override_ratelimit`, admin, { messages_per_second: 0, burst_count: 0 });
    // A token from the admin API: 16 logins from one address would meet Synapse's login rate limit.
    users.push({ userId, accessToken: (await call('POST', `/_synapse/admin/v1/users/${encodeURIComponent(userId)}/login`, admin, {})).access_token as string });
  }
  const { room_id: roomId } = await call('POST', '/_matrix/client/v3/createRoom', users[0]!.accessToken, { preset: 'public_chat', name: 'bench' });
  for (const u of users.slice(1)) await call('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, u.accessToken, {});
  return { users, roomId };
}

const summary = (r: MatrixLoadResult) =>
  `sync ${r.sync.rps.toFixed(1)}/s p50 ${r.sync.p50.toFixed(0)} ms p99 ${r.sync.p99.toFixed(0)} ms; ` +
  `send ${r.send.rps.toFixed(1)}/s p50 ${r.send.p50.toFixed(0)} ms p99 ${r.send.p99.toFixed(0)} ms; errors ${r.errors}`;

async function report(single: MatrixLoadResult, workers: MatrixLoadResult, seconds: number) {
  const row = (name: string, r: MatrixLoadResult) =>
    `| ${name} | ${r.sync.rps.toFixed(1)} | ${r.sync.p50.toFixed(0)} | ${r.sync.p99.toFixed(0)} | ${r.send.rps.toFixed(1)} | ${r.send.p50.toFixed(0)} | ${r.send.p99.toFixed(0)} | ${r.errors} |`;
  const md = [
    '# Synapse: one process against workers, same hosts, same load',
    '',
    `Written by \`npm run bench:workers\` on ${new Date().toISOString().slice(0, 16)}Z (the whole run took ${seconds.toFixed(0)} s).`,
    `${USERS} users, each long-polling /sync (timeout 5 s) and sending one message every ${SEND_INTERVAL_MS} ms`,
    `to one shared room, for ${DURATION_MS / 1000} s, through nginx over TLS, from the control machine. Three lab`,
    'hosts on one 2-core machine: PostgreSQL and Redis; the main process and nginx; the workers',
    `(${WORKERS.map((w) => `${w.name}: ${w.type}${w.serves ? ` ${w.serves.join('+')}` : ''}${w.streams ? ` ${w.streams.join('+')}` : ''}`).join('; ')}).`,
    'A sync\'s latency is how long it was held until an event came, plus the answer.',
    '',
    '| topology | sync req/s | sync p50 ms | sync p99 ms | send req/s | send p50 ms | send p99 ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    row('one process', single),
    row('workers', workers),
    '',
    'On this machine every process of all three hosts shares the same two cores: workers add',
    'replication and Redis work without adding CPU, so these figures say little about the headroom',
    'workers give on separate machines.',
    '',
  ].join('\n');
  await writeFile(new URL('./WORKERS.md', import.meta.url), md);
  await writeFile(new URL('./workers.json', import.meta.url), `${JSON.stringify({ users: USERS, durationMs: DURATION_MS, sendIntervalMs: SEND_INTERVAL_MS, single, workers }, null, 2)}\n`);
  process.stdout.write(md);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
