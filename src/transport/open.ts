import type { Connection, ConnectionParams } from './connection.ts';
import { takeAhead } from './head-start.ts';
import { localConnection } from './local.ts';
import { readSshConfigAhead } from './resolve.ts';

/** The connection a host's parameters ask for: local, or SSH (ssh2, the largest module, loaded only then). */
export async function openConnection(host: string, params: ConnectionParams): Promise<Connection> {
  if (params.connection === 'local') return localConnection(host, params.become, { becomeUser: params.becomeUser, becomePassword: params.becomePassword });
  // Begun while the inputs were read (buildRun), when this host is among the first contacted.
  const ahead = await takeAhead(params);
  if (ahead) return ahead;
  // ssh_config is read (ssh -G) while ssh2 loads, if buildRun has not begun it already.
  readSshConfigAhead(params);
  const { sshConnect } = await import('./ssh.ts');
  return sshConnect(params);
}
