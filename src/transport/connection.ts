export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One open channel to a host for the whole run. Every call is one round trip, counted. */
export interface Connection {
  readonly host: string;
  /** Runs a POSIX sh script (fed on stdin, so its size is not limited by argv), as root when become. */
  run(script: string): Promise<ExecResult>;
  close(): Promise<void>;
  readonly roundTrips: number;
}

export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/** One SSH server on the way: a jump host, or the target itself. */
export interface Endpoint {
  /** The name the user gave it (inventory host, ssh_config alias or jump spec), for messages and known_hosts. */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Private keys to offer, in order (files that exist). */
  identityFiles: string[];
  /** known_hosts files to check the host key against; the first is where accept-new writes. */
  knownHostsFiles: string[];
  /** HostKeyAlias: the name its key is filed under in known_hosts instead of its address. */
  hostKeyAlias?: string;
  /** Its keep-alive; absent: the connection's (ConnectionParams.keepalive, else the defaults). */
  keepalive?: Keepalive;
}

/**
 * SSH keep-alives, as OpenSSH's ServerAliveInterval / ServerAliveCountMax: every `intervalS` a
 * keepalive@openssh.com global request, which sshd answers from its main loop even while a command
 * runs; after `countMax` of them go unanswered the connection is dropped and its host reported
 * unreachable. `intervalS` 0: no keep-alives (a dead host then shows only when TCP gives up).
 */
export interface Keepalive {
  intervalS: number;
  countMax: number;
  /** Where each value came from, for -vvv: 'default', 'mxplay_keepalive_interval', 'ssh_config', ... */
  intervalFrom: string;
  countFrom: string;
}

/** mxplay's keep-alive when nothing sets it: a dead or silent host is unreachable after 9-12 s. */
export const KEEPALIVE_DEFAULTS = { intervalS: 3, countMax: 3 } as const;

/** Everything needed to reach a host, resolved from inventory vars and ~/.ssh/config. */
export interface ConnectionParams {
  name: string;
  connection: 'ssh' | 'local';
  address: string;
  port: number;
  user: string;
  /** The key given explicitly (ansible_ssh_private_key_file, --private-key). */
  privateKeyFile?: string;
  /** Every key to offer, in order: the explicit one, then ssh_config's IdentityFile list. */
  identityFiles?: string[];
  /** ansible_password / -k: offered as password and keyboard-interactive auth. */
  password?: string;
  become: boolean;
  /** ansible_become_user (root by default). */
  becomeUser?: string;
  /** ansible_become_password / -K: sent to sudo on stdin, only when sudo asks for it. */
  becomePassword?: string;
  /** Jump hosts, first to last (ProxyJump from ssh_config, ansible_ssh_common_args or --jump). */
  jumps?: Endpoint[];
  knownHostsFile: string;
  /** Further known_hosts files read (never written): UserKnownHostsFile's others, /etc/ssh/ssh_known_hosts. */
  extraKnownHostsFiles?: string[];
  hostKeyAlias?: string;
  hostKeyChecking: HostKeyChecking;
  connectTimeoutMs: number;
  /** Keep-alive of every hop (mxplay_keepalive_*, else ssh_config per hop, else KEEPALIVE_DEFAULTS). */
  keepalive?: Keepalive;
  /** What ssh_config is asked when connecting (resolve.ts): absent, the values above are final. */
  ssh?: SshQuery;
}

/** The inventory's side of a host's SSH settings, completed by its ssh_config when connecting. */
export interface SshQuery {
  /** ansible_host, else the inventory name: what ssh would be given. */
  alias: string;
  /** Given by the inventory or -u / ansible_port: ssh_config's own do not apply. */
  user?: string;
  port?: number;
  /** `Key=Value` options from ansible_ssh_common_args / _extra_args and --jump. */
  options: string[];
  configFile?: string;
  /** mxplay_known_hosts_file was given: ssh_config's UserKnownHostsFile does not apply. */
  knownHostsGiven: boolean;
  /** mxplay_connect_timeout was given: ssh_config's ConnectTimeout does not apply. */
  timeoutGiven: boolean;
  /** mxplay_keepalive_interval / _count were given: ssh_config's ServerAliveInterval / ServerAliveCountMax do not apply (at any hop). */
  keepaliveIntervalGiven?: boolean;
  keepaliveCountGiven?: boolean;
}

/** The shell that runs a script from stdin, through sudo when we are not root but must be. */
export function shellCommand(user: string, become: boolean): string {
  return become && user !== 'root' ? 'sudo -n -H /bin/sh -s' : '/bin/sh -s';
}
