// Synapse's workers: which processes serve a homeserver, on which hosts, and which requests each
// answers. Each host declares the workers it runs (`synapse_workers`); a host whose main process is
// elsewhere names it (`synapse_main_host`). The topology is read from the inventory, so every host
// of the homeserver (and its proxy) computes the same one.
import { isIP } from 'node:net';
import { ipAddress, port, z, UserError, type TaskContext } from 'mxplay';

/**
 * Request groups a generic worker may serve, and the paths of each (Synapse's workers documentation
 * lists which endpoints a generic worker can answer). The proxy sends each group to its workers.
 */
const REQUEST_GROUPS = {
  client_sync: [
    '^/_matrix/client/(r0|v3)/sync$',
    '^/_matrix/client/(api/v1|r0|v3)/events$',
    '^/_matrix/client/(api/v1|r0|v3)/initialSync$',
    '^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$',
  ],
  client_reads: [
    '^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$',
    '^/_matrix/client/v1/rooms/.*/hierarchy$',
    '^/_matrix/client/(v1|unstable)/rooms/.*/relations/',
    '^/_matrix/client/v1/rooms/.*/threads$',
    '^/_matrix/client/(r0|v3|unstable)/account/3pid$',
    '^/_matrix/client/(r0|v3|unstable)/account/whoami$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/search$',
    '^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$',
    '^/_matrix/client/(r0|v3|unstable)/capabilities$',
    '^/_matrix/client/(r0|v3|unstable)/notifications$',
    '^/_matrix/client/(r0|v3|unstable)/keys/query$',
    '^/_matrix/client/(r0|v3|unstable)/keys/changes$',
    '^/_matrix/client/(r0|v3|unstable)/keys/claim$',
    '^/_matrix/client/(r0|v3|unstable)/room_keys/',
  ],
  client_login: [
    '^/_matrix/client/(api/v1|r0|v3|unstable)/login$',
    '^/_matrix/client/(r0|v3|unstable)/register$',
    '^/_matrix/client/(r0|v3|unstable)/register/available$',
    '^/_matrix/client/v1/register/m.login.registration_token/validity$',
    '^/_matrix/client/(r0|v3|unstable)/password_policy$',
  ],
  client_send: [
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/join/',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/knock/',
    '^/_matrix/client/(api/v1|r0|v3|unstable)/profile/',
  ],
  federation_inbound: [
    '^/_matrix/federation/v1/event/',
    '^/_matrix/federation/v1/state/',
    '^/_matrix/federation/v1/state_ids/',
    '^/_matrix/federation/v1/backfill/',
    '^/_matrix/federation/v1/get_missing_events/',
    '^/_matrix/federation/v1/publicRooms',
    '^/_matrix/federation/v1/query/',
    '^/_matrix/federation/v1/make_join/',
    '^/_matrix/federation/v1/make_leave/',
    '^/_matrix/federation/(v1|v2)/send_join/',
    '^/_matrix/federation/(v1|v2)/send_leave/',
    '^/_matrix/federation/v1/make_knock/',
    '^/_matrix/federation/v1/send_knock/',
    '^/_matrix/federation/(v1|v2)/invite/',
    '^/_matrix/federation/v1/event_auth/',
    '^/_matrix/federation/v1/timestamp_to_event/',
    '^/_matrix/federation/v1/exchange_third_party_invite/',
    '^/_matrix/federation/v1/user/devices/',
    '^/_matrix/key/v2/query',
    '^/_matrix/federation/v1/hierarchy/',
    '^/_matrix/federation/v1/send/',
  ],
} as const;
export type RequestGroup = keyof typeof REQUEST_GROUPS;

/** The media repository's paths (a worker of type media_repository answers them). */
const MEDIA_PATHS = ['^/_matrix/media/', '^/_matrix/client/v1/media/', '^/_matrix/federation/v1/media/', '^/_synapse/media/'];

/** Streams a worker may write, the paths that belong to each writer, and whether several may write it. */
const STREAMS = {
  events: { paths: [], shared: true },
  typing: { paths: ['^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing'], shared: false },
  to_device: { paths: ['^/_matrix/client/(r0|v3|unstable)/sendToDevice/'], shared: false },
  account_data: { paths: ['^/_matrix/client/(r0|v3|unstable)/.*/tags', '^/_matrix/client/(r0|v3|unstable)/.*/account_data'], shared: false },
  receipts: { paths: ['^/_matrix/client/(r0|v3|unstable)/rooms/.*/receipt', '^/_matrix/client/(r0|v3|unstable)/rooms/.*/read_markers'], shared: true },
  presence: { paths: ['^/_matrix/client/(api/v1|r0|v3|unstable)/presence/'], shared: false },
  push_rules: { paths: ['^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/'], shared: false },
} as const;
export type StreamName = keyof typeof STREAMS;

const WORKER_TYPES = ['generic', 'media_repository', 'federation_sender', 'pusher', 'background_tasks', 'stream_writer'] as const;
export type WorkerType = (typeof WORKER_TYPES)[number];

const OWN_KEYS = ['worker_app', 'worker_name', 'worker_listeners', 'enable_media_repo'];

/** One worker as a host declares it. */
export const workerSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a worker name of lowercase letters, digits, _ and - (it names a systemd unit and a file)')
    .refine((n) => n !== 'main', "'main' is the main process's name in Synapse's instance_map"),
  type: z.enum(WORKER_TYPES),
  serves: z.array(z.enum(Object.keys(REQUEST_GROUPS) as [RequestGroup, ...RequestGroup[]])).default([])
    .describe('generic workers: the request groups the proxy sends to it'),
  streams: z.array(z.enum(Object.keys(STREAMS) as [StreamName, ...StreamName[]])).default([])
    .describe('stream_writer workers: the streams it writes'),
  port: port.optional().describe('its HTTP listener (routes, replication and /health)'),
  settings: z.record(z.string(), z.unknown()).default({})
    .refine((o) => !Object.keys(o).some((k) => OWN_KEYS.includes(k)), `mxplay writes ${OWN_KEYS.join(', ')} itself`)
    .describe("more of Synapse's options for this process alone, written in its file as given (Synapse checks them before the file stays)"),
}).superRefine((w, ctx) => {
  if (w.serves.length && w.type !== 'generic') ctx.addIssue({ code: 'custom', path: ['serves'], message: `only generic workers serve request groups (this one is ${w.type})` });
  if (w.type === 'generic' && !w.serves.length) ctx.addIssue({ code: 'custom', path: ['serves'], message: 'a generic worker must serve at least one request group, or nothing would ever reach it' });
  if (w.streams.length && w.type !== 'stream_writer') ctx.addIssue({ code: 'custom', path: ['streams'], message: `only stream_writer workers write streams (this one is ${w.type})` });
  if (w.type === 'stream_writer' && !w.streams.length) ctx.addIssue({ code: 'custom', path: ['streams'], message: 'a stream_writer must write at least one stream' });
  if (needsListener(w) && w.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: `a ${w.type} worker needs a port: ${w.type === 'stream_writer' ? 'other processes reach it by replication' : 'the proxy sends requests to it'}` });
});
export type WorkerSpec = z.output<typeof workerSchema>;

function needsListener(w: Pick<WorkerSpec, 'type'>): boolean {
  return w.type === 'generic' || w.type === 'media_repository' || w.type === 'stream_writer';
}

/** The vars of the synapse role that describe the topology (the proxies declare them too). */
export const topologyVars = {
  synapse_main_host: z.string().min(1).optional()
    .describe("the inventory host running Synapse's main process, for a host that runs only workers (default: this host)"),
  synapse_workers: z.array(workerSchema).default([]).describe('the Synapse workers this host runs (see README: Workers)'),
  synapse_internal_address: ipAddress
    .describe("this host's IP address as the homeserver's other hosts reach it (default: ansible_host when it is an IP address)").optional(),
  synapse_replication_port: port.default(9093).describe("the main process's replication listener, when there are workers"),
};

export interface PlacedWorker extends WorkerSpec {
  host: string;
  /** where other processes and the proxy reach it */
  address: string;
}

export interface Topology {
  mainHost: string;
  mainAddress: string;
  replicationPort: number;
  /** every worker of the homeserver, in inventory order */
  workers: PlacedWorker[];
  /** the homeserver spans several hosts (workers or its proxy elsewhere than the main process) */
  multiHost: boolean;
  /** the inventory hosts of the homeserver */
  members: string[];
}

/** A topology mistake, with the host and the key it is about. */
class TopologyError extends UserError {
  constructor(message: string, host: string, key: string) {
    super(message, { host, key });
  }
}

type Ctx = Pick<TaskContext, 'host' | 'hostVars' | 'inventoryHosts' | 'inventoryVars'>;

/**
 * The homeserver this host belongs to: its main process and every worker on any inventory host
 * that names the same main host. Throws a TopologyError for what Synapse would refuse or what
 * could not work.
 */
export function homeserverTopology(ctx: Ctx, mainHostVar: string | undefined): Topology {
  const mainHost = mainHostVar ?? ctx.host;
  if (!ctx.inventoryHosts.includes(mainHost)) {
    throw new TopologyError(`synapse_main_host '${mainHost}' is not a host of the inventory (hosts: ${ctx.inventoryHosts.join(', ')})`, ctx.host, 'synapse_main_host');
  }
  // The topology is read from the inventory on every host: a value given only as a play or role
  // var on this host would be seen here and nowhere else.
  const own = ctx.inventoryVars(ctx.host) ?? {};
  for (const key of ['synapse_main_host', 'synapse_workers', 'synapse_internal_address']) {
    if (JSON.stringify(ctx.hostVars[key]) !== JSON.stringify(own[key])) {
      throw new TopologyError(`${key} must be set in the inventory (host or group vars): the homeserver's other hosts read it from there`, ctx.host, key);
    }
  }
  const members = ctx.inventoryHosts.filter((h) => h === mainHost || (ctx.inventoryVars(h)?.synapse_main_host === mainHost));
  const declared: { host: string; workers: WorkerSpec[] }[] = [];
  for (const h of members) {
    const raw = ctx.inventoryVars(h)?.synapse_workers;
    if (raw === undefined) continue;
    const parsed = z.array(workerSchema).safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new TopologyError(`synapse_workers${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`, h, 'synapse_workers');
    }
    if (parsed.data.length) declared.push({ host: h, workers: parsed.data });
  }
  // Loopback serves a homeserver on one host; once a worker or the proxy is elsewhere, every
  // process is reached at its host's address.
  const multiHost = members.length > 1;
  const addressOf = (h: string): string => {
    if (!multiHost) return '127.0.0.1';
    const hv = ctx.inventoryVars(h) ?? {};
    const a = hv.synapse_internal_address ?? hv.ansible_host ?? h;
    if (typeof a === 'string' && isIP(a)) return a;
    throw new TopologyError(
      `the homeserver's processes run on several hosts and need this host's address: set synapse_internal_address (its IP address as the other hosts reach it)`,
      h, 'synapse_internal_address',
    );
  };
  const workers = declared.flatMap((d) => d.workers.map((w) => ({ ...w, host: d.host, address: needsListener(w) ? addressOf(d.host) : '' })));
  const topology: Topology = {
    mainHost,
    mainAddress: workers.length ? addressOf(mainHost) : '127.0.0.1',
    replicationPort: Number(ctx.inventoryVars(mainHost)?.synapse_replication_port ?? 9093),
    workers,
    multiHost,
    members,
  };
  checkTopology(topology, ctx.inventoryVars(mainHost)?.synapse_http_port);
  return topology;
}

/** What Synapse would refuse, or what could not work, across the whole homeserver. */
function checkTopology(t: Topology, mainHttpPort: unknown): void {
  const seen = new Map<string, string>();
  for (const w of t.workers) {
    const other = seen.get(w.name);
    if (other !== undefined) throw new TopologyError(`worker name '${w.name}' is used twice (hosts ${other} and ${w.host}): each process needs its own name`, w.host, 'synapse_workers');
    seen.set(w.name, w.host);
  }
  // Ports: one listener per port on each host, the main process's included.
  const ports = new Map<string, string>();
  const takePort = (host: string, p: number | undefined, who: string) => {
    if (p === undefined) return;
    const k = `${host}:${p}`;
    const prev = ports.get(k);
    if (prev) throw new TopologyError(`port ${p} on host ${host} is used by ${prev} and ${who}`, host, 'synapse_workers');
    ports.set(k, who);
  };
  takePort(t.mainHost, Number(mainHttpPort ?? 8008), 'the main process (synapse_http_port)');
  if (t.workers.length) takePort(t.mainHost, t.replicationPort, 'the main process (synapse_replication_port)');
  for (const w of t.workers) takePort(w.host, w.port, `worker ${w.name}`);
  // Streams that only one process may write.
  for (const [stream, info] of Object.entries(STREAMS)) {
    const writers = t.workers.filter((w) => w.streams.includes(stream as StreamName));
    if (!info.shared && writers.length > 1) {
      throw new TopologyError(`stream '${stream}' has one writer only in Synapse, but ${writers.map((w) => `${w.name} (${w.host})`).join(' and ')} both write it`, writers[1]!.host, 'synapse_workers');
    }
  }
  const media = t.workers.filter((w) => w.type === 'media_repository');
  if (new Set(media.map((w) => w.host)).size > 1) {
    throw new TopologyError(`media repository workers must share one host (they share its media store): ${media.map((w) => `${w.name} on ${w.host}`).join(', ')}`, media[1]!.host, 'synapse_workers');
  }
  const background = t.workers.filter((w) => w.type === 'background_tasks');
  if (background.length > 1) {
    throw new TopologyError(`only one worker may run the background tasks: ${background.map((w) => w.name).join(', ')}`, background[1]!.host, 'synapse_workers');
  }
}

/** Workers that other processes reach by HTTP replication (so they are in instance_map). */
function replicationWorkers(t: Topology): PlacedWorker[] {
  return t.workers.filter((w) => w.type === 'stream_writer');
}

/** The shared configuration the topology adds to every process (null: one process, no workers). */
export function sharedWorkerConfig(t: Topology, secrets: { replication: string; redisPassword: string }, redis: { host: string; port: number }): Record<string, unknown> | null {
  if (!t.workers.length) return null;
  const named = (type: WorkerType) => t.workers.filter((w) => w.type === type).map((w) => w.name);
  const streamWriters: Record<string, string[]> = {};
  for (const w of t.workers) for (const s of w.streams) (streamWriters[s] ??= []).push(w.name);
  const media = named('media_repository');
  const config: Record<string, unknown> = {
    worker_replication_secret: secrets.replication,
    redis: { enabled: true, host: redis.host, port: redis.port, password: secrets.redisPassword },
    instance_map: {
      main: { host: t.mainAddress, port: t.replicationPort },
      ...Object.fromEntries(replicationWorkers(t).map((w) => [w.name, { host: w.address, port: w.port }])),
    },
  };
  if (Object.keys(streamWriters).length) config.stream_writers = streamWriters;
  if (named('federation_sender').length) config.federation_sender_instances = named('federation_sender');
  if (named('pusher').length) config.pusher_instances = named('pusher');
  if (named('background_tasks').length) config.run_background_tasks_on = named('background_tasks')[0];
  if (media.length) {
    // The main process stops serving media; the first media worker runs the media jobs.
    config.enable_media_repo = false;
    config.media_instance_running_background_jobs = media[0];
  }
  return config;
}

/** The listener resources a worker needs: what the proxy sends it, and replication. */
function listenerResources(w: WorkerSpec): string[] {
  const names = new Set<string>();
  for (const g of w.serves) names.add(g === 'federation_inbound' ? 'federation' : 'client');
  if (w.type === 'media_repository') ['media', 'client', 'federation'].forEach((n) => names.add(n));
  if (w.type === 'stream_writer') {
    names.add('replication');
    if (w.streams.some((s) => STREAMS[s].paths.length)) names.add('client');
  }
  return [...names];
}

/** A worker's own file: workers/<name>.yaml. */
export function workerConfig(w: PlacedWorker): Record<string, unknown> {
  return {
    worker_app: 'synapse.app.generic_worker',
    worker_name: w.name,
    ...(w.port !== undefined
      ? {
          worker_listeners: [{
            type: 'http',
            port: w.port,
            bind_addresses: [w.address || '127.0.0.1'],
            x_forwarded: true,
            resources: [{ names: listenerResources(w), compress: false }],
          }],
        }
      : {}),
    // The shared config turns the media repository off for every process but these.
    ...(w.type === 'media_repository' ? { enable_media_repo: true } : {}),
    ...w.settings,
  };
}

/** One route of the proxy: a path pattern and the workers that answer it. */
export interface WorkerRoute {
  /** upstream name, unique, of [a-z0-9_] */
  upstream: string;
  patterns: string[];
  servers: { address: string; port: number }[];
  /** how requests are spread: by user (sync), by client address (federation), or round robin */
  balance: 'user' | 'client_address' | 'round_robin';
}

/**
 * What the proxy sends to workers, most specific first (stream writers' paths sit inside the
 * generic groups' patterns); everything else goes to the main process.
 */
export function workerRoutes(t: Topology): WorkerRoute[] {
  const servers = (ws: PlacedWorker[]) => ws.map((w) => ({ address: w.address, port: w.port! }));
  const routes: WorkerRoute[] = [];
  for (const [stream, info] of Object.entries(STREAMS)) {
    const writers = t.workers.filter((w) => w.streams.includes(stream as StreamName));
    if (writers.length && info.paths.length) routes.push({ upstream: `mxplay_synapse_stream_${stream}`, patterns: [...info.paths], servers: servers(writers), balance: 'round_robin' });
  }
  const media = t.workers.filter((w) => w.type === 'media_repository');
  if (media.length) routes.push({ upstream: 'mxplay_synapse_media', patterns: MEDIA_PATHS, servers: servers(media), balance: 'round_robin' });
  for (const group of Object.keys(REQUEST_GROUPS) as RequestGroup[]) {
    const ws = t.workers.filter((w) => w.serves.includes(group));
    if (!ws.length) continue;
    routes.push({
      upstream: `mxplay_synapse_${group}`,
      patterns: [...REQUEST_GROUPS[group]],
      servers: servers(ws),
      balance: group === 'client_sync' ? 'user' : group === 'federation_inbound' ? 'client_address' : 'round_robin',
    });
  }
  return routes;
}
