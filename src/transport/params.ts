import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Host } from '../inventory/inventory.ts';
import { sshConfigFor } from './ssh-config.ts';
import type { ConnectionParams, HostKeyChecking } from './connection.ts';

export interface ConnectionDefaults {
  hostKeyChecking?: HostKeyChecking;
  connectTimeoutS?: number;
  become?: boolean;
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

/** Ansible's connection variables first, then ~/.ssh/config for the alias, then defaults. */
export function connectionParams(host: Host, d: ConnectionDefaults = {}): ConnectionParams {
  const v = host.vars;
  const cfg = sshConfigFor(str(v.ansible_host) ?? host.name);
  const checking = (str(v.mxplay_host_key_checking) ?? d.hostKeyChecking ?? 'strict') as HostKeyChecking;
  if (!['strict', 'accept-new', 'off'].includes(checking)) {
    throw new UserError(`mxplay_host_key_checking must be strict, accept-new or off`, { host: host.name, key: 'mxplay_host_key_checking' });
  }
  const port = Number(v.ansible_port ?? cfg.port ?? 22);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UserError(`ansible_port must be a port number`, { host: host.name, key: 'ansible_port' });
  }
  const keyFile = str(v.ansible_ssh_private_key_file) ?? cfg.identityFile;
  return {
    name: host.name,
    connection: str(v.ansible_connection) === 'local' ? 'local' : 'ssh',
    address: cfg.hostname ?? str(v.ansible_host) ?? host.name,
    port,
    user: str(v.ansible_user) ?? cfg.user ?? process.env.USER ?? 'root',
    ...(keyFile ? { privateKeyFile: keyFile.replace(/^~/, homedir()) } : {}),
    become: v.ansible_become === undefined ? (d.become ?? false) : v.ansible_become === true || v.ansible_become === 'true',
    knownHostsFile: (str(v.mxplay_known_hosts_file) ?? join(homedir(), '.ssh', 'known_hosts')).replace(/^~/, homedir()),
    hostKeyChecking: checking,
    connectTimeoutMs: Number(v.mxplay_connect_timeout ?? d.connectTimeoutS ?? 15) * 1000,
  };
}
