import { connect } from 'node:net';

/** A TCP connection accepted (and closed at once). */
export function tcpConnect(address: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port, timeout: timeoutMs });
    s.on('connect', () => {
      s.destroy();
      resolve('accepts connections');
    });
    s.on('timeout', () => {
      s.destroy();
      reject(new Error(`no answer from ${address}:${port} in ${timeoutMs / 1000} s`));
    });
    s.on('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ECONNREFUSED' ? `connection refused at ${address}:${port}: nothing listens there` : e.message)));
  });
}
