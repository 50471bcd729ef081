// A TCP connection to an SSH server, as every hop's first stream (ssh.ts) and as a head start
// begins it (head-start.ts). Without ssh2: the head start opens it before ssh2 is even loaded.
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { since, verbose } from '../log.ts';
import { UnreachableError } from './errors.ts';
import { RefusedBeforeHandshake } from './startup.ts';

export function openSocket(host: string, port: number, timeoutMs: number, via: string, logHost: string, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port });
    destroyOnAbort(sock, signal);
    // Nagle's algorithm delays every small SSH packet: ~44 ms per round trip instead of ~1 ms.
    sock.setNoDelay(true);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new UnreachableError(`cannot connect to ${via}${host}:${port}: timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const t0 = Date.now();
    sock.once('connect', () => {
      clearTimeout(timer);
      verbose(3, logHost, () => `tcp: connected to ${via}${host}:${port} in ${since(t0)}`);
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // Reset as soon as accepted: a server closing it at once (sshd's MaxStartups), retried; not a host that is down.
      reject(new (e.code === 'ECONNRESET' ? RefusedBeforeHandshake : UnreachableError)(`cannot connect to ${via}${host}:${port}: ${e.code ?? e.message}`));
    });
  });
}

/** The stream is destroyed when `signal` aborts (a head start given up): whatever waits on it fails at once. */
export function destroyOnAbort(stream: Duplex, signal: AbortSignal | undefined): void {
  if (!signal) return;
  const destroy = () => void stream.destroy();
  if (signal.aborted) return destroy();
  signal.addEventListener('abort', destroy, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', destroy));
}

