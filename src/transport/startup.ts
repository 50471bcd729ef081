// Setting up many SSH connections at once without tripping sshd's MaxStartups.
//
// sshd counts the connections it has accepted that have not authenticated yet ("startups"); past
// MaxStartups (default 10:30:100: beyond 10, 30% of new ones are dropped, rising to all at 100) it
// closes new connections at once, before sending its identification line. OpenSSH's client then
// says "kex_exchange_identification: Connection closed by remote host"; ssh2 says "Connection lost
// before handshake", or ECONNRESET when our own identification line was already on its way.
//
// Two things keep mxplay under it, whatever --forks is:
//   - pacing: at most STARTUPS_PER_ENDPOINT connections of this process in their unauthenticated
//     phase at once per sshd (a jump host, or a target through the same jump hosts); the others
//     wait their turn (StartupSlots);
//   - retrying a connection that sshd closed before its identification line (and only those: not
//     a refused TCP connection, a timeout, a host key or an authentication failure), with
//     exponential backoff and jitter, reported as retries, never as failures; past the budget
//     (about 10 s) the host is unreachable with a message naming MaxStartups.
// Pure logic, no ssh2: the engine imports it to read the retry counts.
import { UnreachableError } from './errors.ts';

/** Connections set up at once per sshd endpoint: below MaxStartups' default start (10). */
export const STARTUPS_PER_ENDPOINT = 8;

/** The backoff between attempts: 0.2, 0.4, 0.8, 1.6, 3.2 s, then what is left of the 10 s. */
export const STARTUP_BACKOFF: BackoffOptions = { firstMs: 200, factor: 2, budgetMs: 10_000 };

export interface BackoffOptions {
  firstMs: number;
  factor: number;
  /** The nominal delays add up to at most this (the last cut to fit). */
  budgetMs: number;
}

/** The nominal delays before each retry: growing by `factor`, the last cut so they sum to the budget. */
export function backoffSchedule(o: BackoffOptions): number[] {
  const out: number[] = [];
  let total = 0;
  for (let d = o.firstMs; total < o.budgetMs && d > 0; d *= o.factor) {
    const left = o.budgetMs - total;
    // A remainder shorter than the first delay is not worth another attempt.
    if (left < o.firstMs) break;
    const step = Math.min(d, left);
    out.push(step);
    total += step;
  }
  return out;
}

/** A delay spread over [0.5, 1.5) of itself: hosts dropped together do not come back together. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.5 + random()));
}

/** The key pacing counts under: the sshd reached, by the way it is reached (the same address behind two bastions is two servers). */
export function endpointKey(path: { address: string; port: number }[]): string {
  return path.map((h) => `${h.address.includes(':') ? `[${h.address}]` : h.address}:${h.port}`).join(' > ');
}

/**
 * A counting semaphore per key, first come first served: at most `limit` holders of each key at
 * once. acquire() resolves with the release function (calling it again does nothing).
 */
export class StartupSlots {
  private readonly held = new Map<string, number>();
  private readonly queues = new Map<string, (() => void)[]>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`startup slots: limit must be a positive integer, not ${limit}`);
  }

  /** How many hold a slot of `key` now. */
  inUse(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** How many wait for a slot of `key`. */
  waiting(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  acquire(key: string): Promise<() => void> {
    const n = this.inUse(key);
    if (n < this.limit) {
      this.held.set(key, n + 1);
      return Promise.resolve(this.releaser(key));
    }
    return new Promise((resolve) => {
      const q = this.queues.get(key) ?? [];
      q.push(() => resolve(this.releaser(key)));
      this.queues.set(key, q);
    });
  }

  /** fn with a slot of `key` held, released however fn ends. */
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(key: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const q = this.queues.get(key);
      const next = q?.shift();
      if (q && q.length === 0) this.queues.delete(key);
      // The slot goes straight to the next in line: the count stays.
      if (next) return next();
      const n = this.inUse(key) - 1;
      if (n > 0) this.held.set(key, n);
      else this.held.delete(key);
    };
  }
}

/** This process's slots: every host's connections share them. */
export const startupSlots = new StartupSlots(STARTUPS_PER_ENDPOINT);

/** A connection the server closed before its identification line: what MaxStartups does. Retried. */
export class RefusedBeforeHandshake extends UnreachableError {}

/** The host could not be reached after the retries; `connectRetries` says how many there were. */
export class StartupGaveUp extends UnreachableError {
  constructor(
    message: string,
    readonly connectRetries: number,
  ) {
    super(message);
  }
}

/** What a failed set-up looked like, as ssh2 and node-ssh report it. */
interface ErrorLike {
  message?: unknown;
  code?: unknown;
  level?: unknown;
}

/**
 * Whether a failed SSH set-up is sshd closing a connection it had just accepted, before sending
 * its identification line (MaxStartups, or a per-source limit): worth retrying. `sawServerIdent`:
 * the server's "SSH-2.0-..." line had arrived: then the failure is something else (host key,
 * algorithms, authentication, a server going away mid-session) and is not retried. Timeouts are
 * not retried either (a host that is down, or a firewall that drops): waiting again would only
 * double the wait.
 */
export function refusedBeforeHandshake(e: unknown, sawServerIdent: boolean): boolean {
  if (sawServerIdent || e === null || typeof e !== 'object') return false;
  const { message, code, level } = e as ErrorLike;
  const text = typeof message === 'string' ? message : '';
  if (level === 'client-timeout' || /timed out|timeout/i.test(text)) return false;
  if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  return /Connection lost before handshake|kex_exchange_identification|Connection closed by remote host|No response from server|read ECONNRESET|write EPIPE/i.test(text);
}

export interface PacedOptions {
  slots?: StartupSlots;
  schedule?: number[];
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Before each retry: its number (from 1), the delay (ms, with jitter) and what failed. */
  onRetry?: (n: number, delayMs: number, e: RefusedBeforeHandshake) => void;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One connection set-up (open the stream, handshake, authenticate) with a slot of `key` held,
 * retried with backoff while it fails with RefusedBeforeHandshake; the slot is given back while
 * waiting. Resolves with the value and the retries it took; past the schedule, rejects with
 * StartupGaveUp naming MaxStartups. Any other error is rethrown as it is.
 */
export async function setUpPaced<T>(key: string, attempt: () => Promise<T>, o: PacedOptions = {}): Promise<{ value: T; retries: number }> {
  const slots = o.slots ?? startupSlots;
  const schedule = o.schedule ?? backoffSchedule(STARTUP_BACKOFF);
  const sleep = o.sleep ?? sleepMs;
  let waited = 0;
  for (let retries = 0; ; retries++) {
    try {
      return { value: await slots.with(key, attempt), retries };
    } catch (e) {
      if (!(e instanceof RefusedBeforeHandshake)) throw e;
      const nominal = schedule[retries];
      if (nominal === undefined) {
        throw new StartupGaveUp(
          `${e.message}: closed before the SSH handshake at each of ${retries + 1} attempts over ${(waited / 1000).toFixed(1)} s; ` +
            `the server is most likely refusing new connections past sshd's MaxStartups (too many unauthenticated connections at once, from mxplay or others): ` +
            `lower --forks, or raise MaxStartups in its sshd_config (or else something there closes every connection at once: hosts.deny, a port forward with nothing behind it)`,
          retries,
        );
      }
      const delay = jittered(nominal, o.random);
      o.onRetry?.(retries + 1, delay, e);
      waited += delay;
      await sleep(delay);
    }
  }
}

/** The retries a connection, or the error that ended its attempts, reports (0 when none). */
export function connectRetriesOf(x: unknown): number {
  const n = x !== null && typeof x === 'object' ? (x as { connectRetries?: unknown }).connectRetries : undefined;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}
