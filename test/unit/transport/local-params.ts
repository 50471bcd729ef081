import { join } from 'node:path';
import type { ConnectionParams } from '../../../src/transport/connection.ts';

/** Connection to an ssh2 test server on loopback, with the key and known_hosts the test wrote in `dir`. */
export function localSshParams(dir: string, name: string, port: number, o: Partial<ConnectionParams> = {}): ConnectionParams {
  return {
    name,
    connection: 'ssh',
    address: '127.0.0.1',
    port,
    user: 'root',
    identityFiles: [join(dir, 'id_ed25519')],
    become: false,
    knownHostsFile: join(dir, 'known_hosts'),
    hostKeyChecking: 'strict',
    connectTimeoutMs: 5000,
    ...o,
  };
}
