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

/** Everything needed to reach a host, resolved from inventory vars and ~/.ssh/config. */
export interface ConnectionParams {
  name: string;
  connection: 'ssh' | 'local';
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  become: boolean;
  knownHostsFile: string;
  hostKeyChecking: HostKeyChecking;
  connectTimeoutMs: number;
}

/** The shell that runs a script from stdin, through sudo when we are not root but must be. */
export function shellCommand(user: string, become: boolean): string {
  return become && user !== 'root' ? 'sudo -n -H /bin/sh -s' : '/bin/sh -s';
}
