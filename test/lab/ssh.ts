// OpenSSH client calls to lab hosts, always with the lab key and strict host
// key checking against the lab known_hosts file: a host that answers with an
// unexpected key is an error, never silently trusted.
import { KEY_FILE, KNOWN_HOSTS_FILE } from './config.ts';
import { run, type RunResult } from './exec.ts';

export interface SshOptions {
  user?: string;
  connectTimeoutS?: number;
  /** Kill the whole ssh call after this long. */
  timeoutMs?: number;
}

/** The full `ssh` argv up to (not including) the remote command. */
export function sshArgv(address: string, opts: SshOptions = {}): string[] {
  return [
    'ssh',
    '-F', '/dev/null', // the user's ~/.ssh/config must not change what tests see
    '-i', KEY_FILE,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${KNOWN_HOSTS_FILE}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', `ConnectTimeout=${opts.connectTimeoutS ?? 5}`,
    '-o', 'LogLevel=ERROR',
    `${opts.user ?? 'root'}@${address}`,
  ];
}

/** Runs a shell command on a lab host; resolves with its exit code and output
 * (exit 255 is ssh's own failure). */
export function ssh(address: string, command: string, opts: SshOptions = {}): Promise<RunResult> {
  return run([...sshArgv(address, opts), '--', command], {
    allowFail: true,
    timeoutMs: opts.timeoutMs ?? 600_000,
  });
}
