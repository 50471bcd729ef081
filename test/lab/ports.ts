// "Does this lab port answer?" without shelling out: used for readiness polls
// and status.
import { connect } from 'node:net';
import { GATEWAY_IP } from './config.ts';

/** Connects from the bridge address: when the bridge is absent the bind
 * fails locally, so a probe never sends a packet for a lab address anywhere
 * but the lab. */
export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, localAddress: GATEWAY_IP });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
