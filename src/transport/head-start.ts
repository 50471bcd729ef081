// SSH connections begun while the run is still reading its inputs: for the hosts contacted first,
// the TCP connection, the server's identification and the key exchange (its host key checked)
// overlap loading the roles and building the plan, about 60 ms of a 0.6 s no-op run on one host.
//
// Authentication waits until the engine asks for the connection (openConnection), which it does
// only once every input is known good: a run refused for its inputs logs in nowhere, and tries no
// key or password on any host (the server sees a connection closed before authentication).
// A connection that was dropped while it waited (the server's LoginGraceTime, mxplay's own
// connect timeout when the inputs took that long) is simply made again; any other failure is the
// host's, reported as a direct connection would report it.
import { verbose } from '../log.ts';
import type { Connection, ConnectionParams } from './connection.ts';
import { AuthenticationFailed } from './errors.ts';
import { readSshConfigAhead } from './resolve.ts';
import { openSocket } from './tcp.ts';

interface HeadStart {
  connection: Promise<Connection>;
  /** Authentication may go on (true) or must not (false). */
  go(v: boolean): void;
  abort: AbortController;
  /** The key exchange was done: the server and its host key were fine. */
  waiting: boolean;
}

/** By the very params object the engine will connect with: a reconnect (a copy) never takes one. */
const started = new Map<ConnectionParams, HeadStart>();

/** Begins connecting to an SSH host ahead of the run; nothing for a local one or one begun already. */
export function startAhead(params: ConnectionParams): void {
  if (params.connection !== 'ssh' || started.has(params)) return;
  let go!: (v: boolean) => void;
  const gateOpen = new Promise<boolean>((resolve) => (go = resolve));
  const h: HeadStart = { go, abort: new AbortController(), waiting: false, connection: undefined as unknown as Promise<Connection> };
  // TCP first, to the inventory's address (sshd starts its session process meanwhile), then its
  // ssh_config is asked, with the other hosts' (one shell runs them: ssh-g.ts); sshConnect uses the
  // connection only if ssh_config leaves that address as it is.
  const early = params.ssh ? openSocket(params.address, params.port, params.connectTimeoutMs, '', params.name, h.abort.signal) : undefined;
  early?.catch(() => {});
  readSshConfigAhead(params);
  h.connection = import('./ssh.ts').then(({ sshConnect }) =>
    sshConnect(params, {
      signal: h.abort.signal,
      gate: { go: gateOpen, waiting: () => (h.waiting = true) },
      ...(early ? { early } : {}),
    }),
  );
  // Its outcome is the taker's; one never taken must not be an unhandled rejection.
  h.connection.catch(() => {});
  started.set(params, h);
}

/**
 * The connection begun ahead for these params, authenticated now; undefined when none was begun,
 * or when it was lost after its key exchange (dropped while it waited): the caller then connects
 * afresh. Its other failures are the host's: unreachable, a host key refused before any key was
 * offered, or authentication refused (never tried twice: each try is a failed login there).
 */
export async function takeAhead(params: ConnectionParams): Promise<Connection | undefined> {
  const h = started.get(params);
  if (!h) return undefined;
  started.delete(params);
  h.go(true);
  try {
    return await h.connection;
  } catch (e) {
    if (h.waiting && !(e instanceof AuthenticationFailed)) {
      verbose(2, params.name, () => `the connection begun ahead was lost after its key exchange (${(e as Error).message}): connecting again`);
      return undefined;
    }
    throw e;
  }
}

/** Gives up every connection begun ahead and not taken: none of them authenticates; their sockets close. */
export function cancelAhead(): void {
  for (const h of started.values()) {
    h.go(false);
    h.abort.abort();
  }
  started.clear();
}

/** How many are begun and not taken (for tests). */
export function aheadCount(): number {
  return started.size;
}
