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

const STRICTNESS: readonly HostKeyChecking[] = ['off', 'accept-new', 'strict'];

/**
 * The host key checking of a host: the stricter of the command line's and the inventory's
 * (strict > accept-new > off), so an inventory cannot weaken `--host-key-checking strict`; either
 * alone applies as given, and strict when neither is.
 */
export function effectiveHostKeyChecking(inventory: HostKeyChecking | undefined, commandLine: HostKeyChecking | undefined): HostKeyChecking {
  if (inventory === undefined) return commandLine ?? 'strict';
  if (commandLine === undefined) return inventory;
  return STRICTNESS.indexOf(inventory) >= STRICTNESS.indexOf(commandLine) ? inventory : commandLine;
}

/** Ansible's connection variables first, then ~/.ssh/config for the alias, then defaults. */
export function connectionParams(host: Host, d: ConnectionDefaults = {}): ConnectionParams {
  const v = host.vars;
  const cfg = sshConfigFor(str(v.ansible_host) ?? host.name);
  const fromInventory = str(v.mxplay_host_key_checking) as HostKeyChecking | undefined;
  if (fromInventory !== undefined && !STRICTNESS.includes(fromInventory)) {
    const o = host.origins.mxplay_host_key_checking;
    throw new UserError(`mxplay_host_key_checking must be strict, accept-new or off`, {
      ...(o ? { file: o.file, line: o.line } : {}), host: host.name, key: 'mxplay_host_key_checking',
    });
  }
  const checking = effectiveHostKeyChecking(fromInventory, d.hostKeyChecking);
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
