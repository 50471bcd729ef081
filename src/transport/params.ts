import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Host } from '../inventory/inventory.ts';
import { ansibleBoolean, checkReservedValue, RESERVED_VARS } from '../inventory/connection-vars.ts';
import { BECOME_METHODS } from './become.ts';
import { parseJumpList, sshArgsToOptions } from './ssh-config.ts';
import { KEEPALIVE_DEFAULTS, type ConnectionParams, type HostKeyChecking, type Keepalive } from './connection.ts';

export interface ConnectionDefaults {
  hostKeyChecking?: HostKeyChecking;
  connectTimeoutS?: number;
  become?: boolean;
  /** -u: the login user where the inventory gives none. */
  user?: string;
  /** --private-key: the key where the inventory gives none. */
  privateKey?: string;
  /** --jump: jump host(s) `[user@]host[:port],...`, as ssh -J (over ssh_config's ProxyJump), where the inventory gives none. */
  jump?: string;
  /** -k: the SSH password where the inventory gives none. */
  password?: string;
  /** -K: the become password where the inventory gives none. */
  becomePassword?: string;
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

/** The first of several names Ansible accepts for one variable that the host sets, with its name. */
function firstVar(host: Host, names: string[]): { key: string; value: string } | undefined {
  for (const key of names) {
    const value = str(host.vars[key]);
    if (value !== undefined) return { key, value };
  }
  return undefined;
}

const tilde = (p: string) => (p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);

/** StrictHostKeyChecking given in ansible_ssh_common_args, as mxplay's checking. */
function checkingOfSshOption(options: string[]): HostKeyChecking | undefined {
  const o = options.find((x) => /^stricthostkeychecking=/i.test(x));
  if (!o) return undefined;
  const v = o.slice(o.indexOf('=') + 1).trim().toLowerCase();
  return v === 'no' || v === 'off' ? 'off' : v === 'accept-new' ? 'accept-new' : 'strict';
}

/**
 * mxplay_keepalive_interval (seconds, 0: none) and mxplay_keepalive_count (1 or more), with
 * KEEPALIVE_DEFAULTS where the inventory gives none; which were given (they win over ssh_config).
 * Their values were checked when the inventory was read (connection-vars.ts); again here, with the
 * same words, for a value that came from a template.
 */
function keepaliveOfInventory(v: Record<string, unknown>, err: (key: string, message: string) => Error): { keepalive: Keepalive; intervalGiven: boolean; countGiven: boolean } {
  const read = (key: 'mxplay_keepalive_interval' | 'mxplay_keepalive_count', fallback: number) => {
    const value = v[key];
    if (value === undefined || value === null) return { value: fallback, given: false };
    const problem = checkReservedValue(RESERVED_VARS.find((e) => e.name === key)!, value);
    const n = typeof value === 'string' ? Number(value.trim()) : value;
    if (problem || typeof n !== 'number' || !Number.isFinite(n)) throw err(key, problem ?? `${key} must be a number, not ${JSON.stringify(value)}`);
    return { value: n, given: true };
  };
  const interval = read('mxplay_keepalive_interval', KEEPALIVE_DEFAULTS.intervalS);
  const count = read('mxplay_keepalive_count', KEEPALIVE_DEFAULTS.countMax);
  return {
    keepalive: {
      intervalS: interval.value,
      countMax: count.value,
      intervalFrom: interval.given ? 'mxplay_keepalive_interval' : 'default',
      countFrom: count.given ? 'mxplay_keepalive_count' : 'default',
    },
    intervalGiven: interval.given,
    countGiven: count.given,
  };
}

/**
 * Ansible's connection variables first, then the command line's defaults (-u, --private-key, -k,
 * -K, --jump), then ssh_config (read when connecting: `ssh -G`, see resolve.ts). Every problem is
 * an input error naming the host, the variable and where it was set.
 */
export function connectionParams(host: Host, d: ConnectionDefaults = {}): ConnectionParams {
  const v = host.vars;
  const err = (key: string, message: string) => {
    const o = host.origins[key];
    return new UserError(message, { ...(o ? { file: o.file, line: o.line } : {}), host: host.name, key });
  };
  const fromInventory = str(v.mxplay_host_key_checking) as HostKeyChecking | undefined;
  if (fromInventory !== undefined && !STRICTNESS.includes(fromInventory)) {
    throw err('mxplay_host_key_checking', `mxplay_host_key_checking must be strict, accept-new or off`);
  }
  const portVar = firstVar(host, ['ansible_port', 'ansible_ssh_port']);
  const port = Number(portVar?.value ?? 22);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw err(portVar?.key ?? 'ansible_port', `${portVar?.key ?? 'ansible_port'} must be a port number`);

  // ansible_ssh_common_args / _extra_args: read as ssh's own command-line options.
  const options: string[] = [];
  let configFile: string | undefined;
  for (const key of ['ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
    const text = str(v[key]);
    if (!text?.trim()) continue;
    try {
      const r = sshArgsToOptions(text);
      for (const o of r.options) if (/^proxyjump=/i.test(o)) parseJumpList(o.slice(o.indexOf('=') + 1));
      options.push(...r.options);
      if (r.configFile) configFile = tilde(r.configFile);
    } catch (e) {
      throw err(key, `${key}: ${(e as Error).message}`);
    }
  }
  if (d.jump) {
    try {
      parseJumpList(d.jump);
    } catch (e) {
      throw new UserError(`--jump: ${(e as Error).message}`);
    }
    options.push(`ProxyJump=${d.jump}`);
  }
  const checking = effectiveHostKeyChecking(fromInventory ?? checkingOfSshOption(options), d.hostKeyChecking);

  const keyVar = firstVar(host, ['ansible_ssh_private_key_file', 'ansible_private_key_file']);
  const keyFile = keyVar?.value ?? d.privateKey;
  const keyPath = keyFile ? tilde(keyFile) : undefined;
  const connection = str(v.ansible_connection) === 'local' ? 'local' : 'ssh';
  if (keyPath && connection === 'ssh' && !existsSync(keyPath)) {
    if (keyVar) throw err(keyVar.key, `${keyVar.key}: the private key ${keyPath} does not exist`);
    throw new UserError(`--private-key: the private key ${keyPath} does not exist`, { host: host.name });
  }

  const becomeMethod = firstVar(host, ['ansible_become_method']);
  if (becomeMethod && !(BECOME_METHODS as readonly string[]).includes(becomeMethod.value)) {
    throw err(becomeMethod.key, `ansible_become_method ${becomeMethod.value} is not supported: mxplay becomes another user with ${BECOME_METHODS.join(', ')}`);
  }
  const becomeUser = firstVar(host, ['ansible_become_user']);
  if (becomeUser && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(becomeUser.value)) {
    throw err(becomeUser.key, `ansible_become_user must be a user name`);
  }
  const password = firstVar(host, ['ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password'])?.value ?? d.password;
  const becomePassword = firstVar(host, ['ansible_become_password', 'ansible_become_pass', 'ansible_sudo_pass', 'ansible_sudo_password'])?.value ?? d.becomePassword;
  const alias = firstVar(host, ['ansible_host', 'ansible_ssh_host'])?.value ?? host.name;
  const userVar = firstVar(host, ['ansible_user', 'ansible_ssh_user']);
  const user = userVar?.value ?? d.user;
  const knownHosts = str(v.mxplay_known_hosts_file);
  const timeout = v.mxplay_connect_timeout ?? d.connectTimeoutS;
  const ka = keepaliveOfInventory(v, err);
  return {
    name: host.name,
    connection,
    address: alias,
    port,
    user: user ?? process.env.USER ?? 'root',
    ...(keyPath ? { privateKeyFile: keyPath } : {}),
    ...(password !== undefined ? { password } : {}),
    // Ansible's boolean: ansible_become=yes in an INI file is the text 'yes' (loadInventory refused any value it does not read).
    become: v.ansible_become === undefined || v.ansible_become === null ? (d.become ?? false) : ansibleBoolean(v.ansible_become) === true,
    ...(becomeUser ? { becomeUser: becomeUser.value } : {}),
    ...(becomePassword !== undefined ? { becomePassword } : {}),
    knownHostsFile: tilde(knownHosts ?? join(homedir(), '.ssh', 'known_hosts')),
    hostKeyChecking: checking,
    connectTimeoutMs: Number(timeout ?? 15) * 1000,
    keepalive: ka.keepalive,
    ssh: {
      alias,
      ...(user !== undefined ? { user } : {}),
      ...(portVar ? { port } : {}),
      options,
      ...(configFile ? { configFile } : {}),
      knownHostsGiven: knownHosts !== undefined,
      timeoutGiven: timeout !== undefined,
      keepaliveIntervalGiven: ka.intervalGiven,
      keepaliveCountGiven: ka.countGiven,
    },
  };
}
