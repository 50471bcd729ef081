// Load on a Matrix homeserver through its client API, as many clients make it: each user long-polls
// /sync (following next_batch) and, at the same time, sends a message to one room every
// sendIntervalMs, for durationMs. Made to compare a single Synapse process with a worker topology on
// the same hosts: same users, same room, same load, and the latencies clients see.
//
//   const r = await matrixLoad({ baseUrl: 'https://matrix.hs1.lab.test', address: lab.host('hs1').ip,
//     ca: caPem, users, roomId, durationMs: 15_000 });
//   // r.sync / r.send: { requests, rps, p50, p99 } (latencies in ms), r.errors
//
// The caller provides the users (with access tokens) and the room, every user joined to it.
//
// How it measures:
// - One keep-alive agent per user (its sync and its sends share its connections), trusting `ca`.
// - Before the clock starts, each user makes one initial sync (timeout=0): its since token. It is not
//   counted; it fails the run if it fails (a bad token or URL is not a load result).
// - A request's latency runs from the request being issued to its response body read in full. A sync
//   long-polls, so its latency is how long the server held it (until an event came, at most
//   syncTimeoutMs) plus the time to answer: with messages flowing, about the wait for the next event.
// - A user has at most one send in flight (a client's send queue), sent at start + k * sendIntervalMs
//   (users offset within the interval); a send that takes longer delays the next one, missed slots are
//   not made up in a burst. Both loops stop issuing requests at the deadline.
// - Requests in flight at the deadline are waited for, for at most drainMs (default syncTimeoutMs +
//   10 s); whatever is still open then is aborted and counted as an error. Once the last send is
//   over, the syncs still open are cut and not counted: with no more events coming they would only
//   wait out their timeout, a latency made by the end of the window, not by the server (one open
//   for over syncTimeoutMs + 1 s by then is counted as an error: it was not answered when due). Each request
//   also has its own time limit (requestTimeoutMs, default 30 s, plus syncTimeoutMs for a sync).
// - Only answers with a 2xx status count in the statistics; any other answer (429 too) or failure is
//   an error. A sync that failed is retried after sendIntervalMs (not in a tight loop).
// - rps is requests (counted ones) per second of the issuing window, durationMs.
//
// CLI (the access tokens from a file, never from argv):
//   tsx bench/matrix-load.ts --base-url https://matrix.hs1.lab.test --address 10.231.0.105 \
//     --ca hs1-ca.crt --users users.json --room '!abc:hs1.lab.test' --duration 15 [--sync-timeout 5000] \
//     [--send-interval 200]
//   users.json: [{ "userId": "@u1:hs1.lab.test", "accessToken": "..." }, ...]; prints the result as JSON.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface Stats {
  /** Requests counted (answered with a 2xx status). */
  requests: number;
  /** requests per second of the window */
  rps: number;
  /** nearest-rank percentiles of the latencies, ms (NaN without requests) */
  p50: number;
  p99: number;
}

export interface LoadUser {
  userId: string;
  accessToken: string;
}

export interface MatrixLoadOptions {
  /** The client API's base URL, e.g. https://matrix.example.com (http:// works too). */
  baseUrl: string;
  /** CA certificate(s), PEM, trusted for https (instead of the system's). */
  ca?: Buffer | string;
  /** Connect to this address instead of resolving baseUrl's host name, which stays the TLS server
   * name (SNI) and the Host header: curl's --resolve, for names no DNS knows (the lab's). */
  address?: string;
  users: LoadUser[];
  /** A room every user has joined. */
  roomId: string;
  durationMs: number;
  /** /sync's timeout parameter (default 5000). */
  syncTimeoutMs?: number;
  /** Each user's pace of sends (default 200). */
  sendIntervalMs?: number;
  /** How long requests in flight at the deadline are waited for (default syncTimeoutMs + 10 s). */
  drainMs?: number;
  /** A single request's limit (default 30 s; a sync's is this plus syncTimeoutMs). */
  requestTimeoutMs?: number;
}

export interface MatrixLoadResult {
  sync: Stats;
  send: Stats;
  /** Requests that failed or were answered with a non-2xx status, and those aborted at the drain deadline. */
  errors: number;
  /** The first few errors, as text ("send 429 M_LIMIT_EXCEEDED", "sync: socket hang up"). */
  errorSamples: string[];
}

/** Count, rate and nearest-rank p50/p99 of latencies (ms) measured over durationMs. */
export function stats(latencies: number[], durationMs: number): Stats {
  if (!(durationMs > 0)) throw new RangeError(`stats: durationMs must be positive, got ${durationMs}`);
  const sorted = Float64Array.from(latencies).sort(); // numeric, unlike Array#sort's default
  const n = sorted.length;
  // Nearest rank: the smallest value with at least p% of the values at or below it, rank ceil(p*n/100).
  // In integers (p*n, then /100): with p/100 first, a float like 0.07 * 100 = 7.000000000000001 would
  // round one rank up.
  const pct = (p: number) => (n === 0 ? NaN : sorted[Math.max(1, Math.ceil((p * n) / 100)) - 1]!);
  return { requests: n, rps: n / (durationMs / 1000), p50: pct(50), p99: pct(99) };
}

type Agent = HttpAgent | HttpsAgent;

interface Answer {
  status: number;
  body: string;
}

class RequestError extends Error {}
/** A long-poll still open when the load ended: neither a result nor an error. */
class CutError extends Error {}

export async function matrixLoad(o: MatrixLoadOptions): Promise<MatrixLoadResult> {
  const syncTimeoutMs = o.syncTimeoutMs ?? 5000;
  const sendIntervalMs = o.sendIntervalMs ?? 200;
  const drainMs = o.drainMs ?? syncTimeoutMs + 10_000;
  const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
  if (!(o.durationMs > 0)) throw new RangeError(`matrixLoad: durationMs must be positive, got ${o.durationMs}`);
  if (!(sendIntervalMs > 0)) throw new RangeError(`matrixLoad: sendIntervalMs must be positive, got ${sendIntervalMs}`);
  if (!o.users.length) throw new Error('matrixLoad: no users');

  const base = new URL(o.baseUrl);
  const https = base.protocol === 'https:';
  if (!https && base.protocol !== 'http:') throw new Error(`matrixLoad: ${o.baseUrl}: http or https only`);
  const prefix = base.pathname.replace(/\/+$/, '');
  const lookup: LookupFunction | undefined = o.address
    ? (_host, opts, cb) => {
        const family = isIP(o.address!);
        if (opts.all) cb(null, [{ address: o.address!, family }]);
        else cb(null, o.address!, family);
      }
    : undefined;
  const agents: Agent[] = o.users.map(() =>
    https
      ? new HttpsAgent({ keepAlive: true, ...(o.ca ? { ca: o.ca } : {}), ...(lookup ? { lookup } : {}) })
      : new HttpAgent({ keepAlive: true, ...(lookup ? { lookup } : {}) }),
  );

  /** Requests in flight, with the loop they belong to. */
  const inFlight = new Map<ClientRequest, { kind: 'sync' | 'send'; t0: number }>();
  let drainExpired = false;
  /** Set once every send is over: the long-polls still open are then cut, uncounted. */
  let syncsCut = false;
  const syncLatencies: number[] = [];
  const sendLatencies: number[] = [];
  let errors = 0;
  const errorSamples: string[] = [];
  const fail = (what: string) => {
    errors++;
    if (errorSamples.length < 10) errorSamples.push(what);
  };

  function call(kind: 'sync' | 'send', agent: Agent, token: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = (https ? httpsRequest : httpRequest)({
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port || (https ? 443 : 80),
        path: prefix + path,
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      }, (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          inFlight.delete(req);
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', done);
        res.on('close', () => {
          if (!res.complete) done(new RequestError('connection closed before the answer was read'));
        });
      });
      let settled = false;
      let answered = false;
      const timer = setTimeout(() => req.destroy(new RequestError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      function done(e: Error) {
        if (settled) return;
        settled = true;
        inFlight.delete(req);
        clearTimeout(timer);
        reject(
          drainExpired ? new RequestError(`aborted at the drain deadline (${drainMs} ms after the end)`)
            : kind === 'sync' && syncsCut ? new CutError('cut at the end')
              : e,
        );
      }
      req.on('error', done);
      // Whatever else ends the exchange (a reset before or in the middle of the answer) ends the call too.
      req.on('close', () => {
        if (!answered) done(new RequestError('connection closed before an answer'));
      });
      inFlight.set(req, { kind, t0: performance.now() });
      req.end(payload);
    });
  }

  const errcode = (a: Answer) => {
    try {
      return String(JSON.parse(a.body).errcode ?? '');
    } catch {
      return a.body.slice(0, 80);
    }
  };
  const syncPath = (since: string | undefined, timeout: number, filter?: unknown) =>
    `/_matrix/client/v3/sync?timeout=${timeout}${since ? `&since=${encodeURIComponent(since)}` : ''}${filter ? `&filter=${encodeURIComponent(JSON.stringify(filter))}` : ''}`;

  try {
    // Not timed: every user's since token, and a check that the URL, CA and tokens work.
    const since = await Promise.all(o.users.map(async (u, i) => {
      const a = await call('sync', agents[i]!, u.accessToken, 'GET', syncPath(undefined, 0, { room: { timeline: { limit: 1 } } }), undefined, requestTimeoutMs)
        .catch((e: Error) => {
          throw new Error(`matrixLoad: initial sync of ${u.userId} failed: ${e.message}`);
        });
      if (a.status !== 200) throw new Error(`matrixLoad: initial sync of ${u.userId}: ${a.status} ${a.body.slice(0, 200)}`);
      return String(JSON.parse(a.body).next_batch);
    }));

    const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
    const start = performance.now();
    const deadline = start + o.durationMs;
    /** Waits ms, but never past the deadline. */
    const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, Math.min(ms, deadline - performance.now()))));

    const syncLoop = async (i: number) => {
      const u = o.users[i]!;
      let token = since[i];
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const a = await call('sync', agents[i]!, u.accessToken, 'GET', syncPath(token, syncTimeoutMs), undefined, requestTimeoutMs + syncTimeoutMs);
          if (a.status === 200) {
            const ms = performance.now() - t0;
            token = String(JSON.parse(a.body).next_batch);
            syncLatencies.push(ms);
            continue;
          }
          fail(`sync ${a.status} ${errcode(a)}`);
        } catch (e) {
          if (e instanceof CutError) return;
          fail(`sync: ${(e as Error).message}`);
        }
        await pause(sendIntervalMs);
      }
    };

    const sendLoop = async (i: number) => {
      const u = o.users[i]!;
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(o.roomId)}/send/m.room.message/`;
      let next = start + (i * sendIntervalMs) / o.users.length;
      for (let seq = 0; ; seq++) {
        for (let now = performance.now(); now < next && now < deadline; now = performance.now()) await pause(next - now);
        if (performance.now() >= deadline) return;
        const t0 = performance.now();
        try {
          const a = await call('send', agents[i]!, u.accessToken, 'PUT', `${path}${runId}-${i}-${seq}`, { msgtype: 'm.text', body: `load ${runId} ${i} ${seq}` }, requestTimeoutMs);
          if (a.status === 200) sendLatencies.push(performance.now() - t0);
          else fail(`send ${a.status} ${errcode(a)}`);
        } catch (e) {
          fail(`send: ${(e as Error).message}`);
        }
        next = Math.max(next + sendIntervalMs, performance.now());
      }
    };

    const syncs = Promise.all(o.users.map((_, i) => syncLoop(i)));
    const sends = Promise.all(o.users.map((_, i) => sendLoop(i)));
    // Requests still open drainMs after the deadline are aborted: the loops then end at once.
    const drain = setTimeout(() => {
      drainExpired = true;
      for (const req of inFlight.keys()) req.destroy();
    }, Math.max(0, deadline - performance.now()) + drainMs);
    try {
      await sends;
      // No more events are coming: a sync still waiting would only wait out its timeout, and its
      // latency would be the window's end, not the server's. Those are cut, and not counted.
      syncsCut = true;
      // One open for longer than its timeout (plus a second) was not answered when due: an error.
      for (const [req, { kind, t0 }] of inFlight) {
        if (kind !== 'sync') continue;
        const open = performance.now() - t0;
        if (open > syncTimeoutMs + 1000) fail(`sync: no answer after ${Math.round(open)} ms (timeout=${syncTimeoutMs}), cut at the end`);
        req.destroy();
      }
      await syncs;
    } finally {
      clearTimeout(drain);
    }
    return { sync: stats(syncLatencies, o.durationMs), send: stats(sendLatencies, o.durationMs), errors, errorSamples };
  } finally {
    for (const req of inFlight.keys()) req.destroy();
    for (const a of agents) a.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      'base-url': { type: 'string' },
      address: { type: 'string' },
      ca: { type: 'string' },
      users: { type: 'string' },
      room: { type: 'string' },
      duration: { type: 'string', default: '15' },
      'sync-timeout': { type: 'string' },
      'send-interval': { type: 'string' },
    },
  });
  const usage = 'usage: tsx bench/matrix-load.ts --base-url URL [--address IP] [--ca CA.pem] --users users.json --room ROOM_ID [--duration SECONDS] [--sync-timeout MS] [--send-interval MS]';
  if (!a['base-url'] || !a.users || !a.room) throw new Error(usage);
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name}: a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const users = JSON.parse(readFileSync(a.users, 'utf8')) as LoadUser[];
  if (!Array.isArray(users) || !users.every((u) => typeof u?.userId === 'string' && typeof u?.accessToken === 'string')) {
    throw new Error(`${a.users}: expected [{ "userId": ..., "accessToken": ... }, ...]`);
  }
  const r = await matrixLoad({
    baseUrl: a['base-url'],
    ...(a.address ? { address: a.address } : {}),
    ...(a.ca ? { ca: readFileSync(a.ca) } : {}),
    users,
    roomId: a.room,
    durationMs: num('duration', a.duration)! * 1000,
    ...(a['sync-timeout'] ? { syncTimeoutMs: num('sync-timeout', a['sync-timeout']) } : {}),
    ...(a['send-interval'] ? { sendIntervalMs: num('send-interval', a['send-interval']) } : {}),
  });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
