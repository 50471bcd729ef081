/**
 * Every `ansible_*` and `mxplay_*` variable mxplay knows, and what it does with it. A variable of
 * these prefixes that is not in this table is refused ("not supported by mxplay"), naming the file,
 * line, host and key: an Ansible inventory that sets `ansible_shell_type: csh` or
 * `ansible_become_flags: -H` expects something mxplay would not do, so it must not pass silently.
 *
 * - honoured: read by mxplay (src/transport/params.ts for the connection, the build for
 *   mxplay_master_secret); its value is checked here, when the inventory is read, as Ansible types
 *   it (`ansible_become=yes` in an INI file is the text "yes", which Ansible's boolean reads as
 *   true: see `ansibleBoolean`).
 * - ignored: accepted and without effect, because it only tunes how Ansible runs its Python
 *   modules on the host, and mxplay runs none (its resources are shell run by /bin/sh):
 *   `ansible_python_interpreter` (often set in group_vars/all to quiet Ansible's warning) and
 *   pipelining (mxplay always sends each batch in one exec). Nothing a host ends up with depends
 *   on them, so refusing them would only make a working Ansible inventory unusable.
 * - refused: everything else, with the reason and, where there is one, what to use instead.
 *
 * Connection variables are read from the inventory only (host and group vars, their files): in a
 * play's vars or `-e` they would have no effect, so they are refused there.
 */
import { suggest } from '../errors.ts';

export type VarType = 'string' | 'boolean' | 'port' | 'seconds' | 'integer';

export interface ReservedVar {
  name: string;
  status: 'honoured' | 'ignored';
  type?: VarType;
  /** The values it may take, when only some are meaningful. */
  values?: readonly string[];
  /** seconds, integer: the least value it takes (inclusive); seconds without it must be more than 0. */
  min?: number;
  /** inventory: host and group vars only (connection settings); anywhere: also play vars and -e. */
  where: 'inventory' | 'anywhere';
  doc: string;
}

const honoured = (name: string, type: VarType, doc: string, extra: Partial<ReservedVar> = {}): ReservedVar => ({
  name, status: 'honoured', type, where: 'inventory', doc, ...extra,
});

export const RESERVED_VARS: readonly ReservedVar[] = [
  honoured('ansible_host', 'string', 'address or ~/.ssh/config alias to connect to (default: the inventory name)'),
  honoured('ansible_ssh_host', 'string', 'old name of ansible_host'),
  honoured('ansible_port', 'port', 'SSH port (default 22, or ~/.ssh/config)'),
  honoured('ansible_ssh_port', 'port', 'old name of ansible_port'),
  honoured('ansible_user', 'string', 'SSH login user'),
  honoured('ansible_ssh_user', 'string', 'old name of ansible_user'),
  honoured('ansible_connection', 'string', 'ssh (default; smart means ssh) or local', { values: ['ssh', 'smart', 'local'] }),
  honoured('ansible_password', 'string', 'SSH password (better: a key)'),
  honoured('ansible_ssh_pass', 'string', 'old name of ansible_password'),
  honoured('ansible_ssh_password', 'string', 'old name of ansible_password'),
  honoured('ansible_ssh_private_key_file', 'string', 'private key file'),
  honoured('ansible_private_key_file', 'string', 'private key file (ansible_ssh_private_key_file wins)'),
  honoured('ansible_ssh_common_args', 'string', 'ssh options (-o Key=Value, -J, -F ...)'),
  honoured('ansible_ssh_extra_args', 'string', 'more ssh options'),
  honoured('ansible_become', 'boolean', 'run as another user (sudo); yes/no/true/false/on/off/1/0 as Ansible reads them'),
  honoured('ansible_become_user', 'string', 'the user to become (default root)'),
  honoured('ansible_become_method', 'string', 'sudo (the only method mxplay has)', { values: ['sudo'] }),
  honoured('ansible_become_password', 'string', 'sudo password'),
  honoured('ansible_become_pass', 'string', 'old name of ansible_become_password'),
  honoured('ansible_sudo_pass', 'string', 'old name of ansible_become_password'),
  honoured('ansible_sudo_password', 'string', 'old name of ansible_become_password'),
  honoured('ansible_group_priority', 'integer', "orders groups of the same depth when their variables merge; only in an inventory file's group vars, as in Ansible"),
  honoured('mxplay_master_secret', 'string', 'derives the stable secrets (16+ characters)', { where: 'anywhere' }),
  honoured('mxplay_host_key_checking', 'string', 'strict, accept-new or off; --host-key-checking can only make it stricter', { values: ['strict', 'accept-new', 'off'] }),
  honoured('mxplay_known_hosts_file', 'string', 'known_hosts file (default ~/.ssh/known_hosts)'),
  honoured('mxplay_connect_timeout', 'seconds', 'seconds to wait for the SSH connection (default 15)'),
  honoured('mxplay_keepalive_interval', 'seconds',
    'seconds between SSH keep-alives on every hop (default 3; 0: none), as ssh_config ServerAliveInterval, which it overrides: sshd answers them even while a command runs, so a dead or silent host is reported unreachable after interval × (count + 1) at most', { min: 0 }),
  honoured('mxplay_keepalive_count', 'integer',
    'unanswered keep-alives before the host is reported unreachable (default 3, 1 or more), as ssh_config ServerAliveCountMax, which it overrides', { min: 1 }),
  honoured('mxplay_verify_resolve', 'string',
    "how mxplay verify reaches the names the roles serve: dns (default: as everyone does) or inventory (each host's names at its inventory address, before DNS is switched or in a lab)",
    { values: ['dns', 'inventory'] }),
  honoured('mxplay_verify_ca_file', 'string', 'a CA certificate file on the control machine that mxplay verify trusts besides the system CAs (a private or lab CA)'),
  { name: 'ansible_python_interpreter', status: 'ignored', where: 'anywhere', doc: 'ignored: mxplay runs no Python module on hosts' },
  { name: 'ansible_pipelining', status: 'ignored', where: 'anywhere', doc: 'ignored: mxplay always sends each batch of work in one exec' },
  { name: 'ansible_ssh_pipelining', status: 'ignored', where: 'anywhere', doc: 'ignored: mxplay always sends each batch of work in one exec' },
];

const BY_NAME = new Map(RESERVED_VARS.map((v) => [v.name, v]));

/** Why some well-known Ansible variables are refused, and what to use instead. */
const REFUSED_BECAUSE: Record<string, string> = {
  ansible_become_exe: 'mxplay runs sudo from the PATH',
  ansible_become_flags: 'mxplay runs sudo with its own flags',
  ansible_sudo: 'use ansible_become',
  ansible_sudo_user: 'use ansible_become_user',
  ansible_sudo_exe: 'mxplay runs sudo from the PATH',
  ansible_sudo_flags: 'mxplay runs sudo with its own flags',
  ansible_shell_type: 'mxplay runs /bin/sh on every host',
  ansible_shell_executable: 'mxplay runs /bin/sh on every host',
  ansible_ssh_executable: 'mxplay speaks SSH itself (ansible_ssh_common_args and ansible_ssh_extra_args are read as ssh options)',
  ansible_ssh_args: 'use ansible_ssh_common_args',
  ansible_sftp_extra_args: 'mxplay sends files through its SSH session, not sftp',
  ansible_scp_extra_args: 'mxplay sends files through its SSH session, not scp',
  ansible_scp_if_ssh: 'mxplay sends files through its SSH session, not scp',
  ansible_ssh_transfer_method: 'mxplay sends files through its SSH session',
  ansible_host_key_checking: 'use mxplay_host_key_checking (strict, accept-new, off) or --host-key-checking',
  ansible_ssh_host_key_checking: 'use mxplay_host_key_checking (strict, accept-new, off) or --host-key-checking',
  ansible_timeout: 'use mxplay_connect_timeout',
  ansible_ssh_timeout: 'use mxplay_connect_timeout',
  ansible_ssh_retries: 'mxplay reports an unreachable host; run again',
  ansible_remote_tmp: 'mxplay writes no module files to a temporary folder',
};

const isReservedName = (k: string) => k.startsWith('ansible_') || k.startsWith('mxplay_');

/** Ansible's boolean() (module_utils/parsing/convert_bool.py): the values it reads as true or false. */
export function ansibleBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (['y', 'yes', 'on', '1', 'true', 't'].includes(s)) return true;
  if (['n', 'no', 'off', '0', 'false', 'f'].includes(s)) return false;
  return undefined;
}

/** A string that Jinja will give its value later (the templating of variables): its type is checked then. */
const isTemplate = (v: unknown) => typeof v === 'string' && /\{\{|\{%/.test(v);

export type ReservedVerdict = { ok: true; entry?: ReservedVar } | { ok: false; message: string };

/**
 * Whether a variable may be set where it is: `where` is `inventory` for host and group vars and
 * their files, `play` for a play's vars, a role's vars in a play and `-e`. A name outside the
 * `ansible_`/`mxplay_` prefixes is not this table's business (ok, no entry).
 */
export function checkReservedName(key: string, where: 'inventory' | 'play'): ReservedVerdict {
  if (!isReservedName(key)) return { ok: true };
  const entry = BY_NAME.get(key);
  if (entry) {
    if (where === 'play' && entry.where === 'inventory') {
      const hint = key === 'ansible_become' ? " (a play's become: sets it for the play)" : '';
      return { ok: false, message: `${key}: a connection variable, read from the inventory only (host or group vars and their files); in a play's vars or -e it is not supported by mxplay${hint}` };
    }
    return { ok: true, entry };
  }
  const because = REFUSED_BECAUSE[key];
  const known = RESERVED_VARS.filter((v) => v.status === 'honoured').map((v) => v.name);
  const near = because ? undefined : suggest(key, known);
  const prefix = key.startsWith('mxplay_') ? 'mxplay_' : 'ansible_';
  return {
    ok: false,
    message: `${key}: not supported by mxplay` +
      (because ? ` (${because})` : near ? `; did you mean ${near}?` : ` (mxplay reads ${known.filter((k) => k.startsWith(prefix)).join(', ')})`),
  };
}

/** The value of an honoured variable, checked against its type as Ansible would read it; a message if it does not fit. */
export function checkReservedValue(entry: ReservedVar, value: unknown): string | undefined {
  if (entry.status !== 'honoured' || value === null || value === undefined || isTemplate(value)) return undefined;
  const k = entry.name;
  switch (entry.type) {
    case 'boolean':
      return ansibleBoolean(value) === undefined ? `${k} must be a boolean (yes/no, true/false, on/off, 1/0), not ${JSON.stringify(value)}` : undefined;
    case 'port': {
      const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
      return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? undefined : `${k} must be a port number (1-65535), not ${JSON.stringify(value)}`;
    }
    case 'seconds': {
      const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
      const ok = typeof n === 'number' && Number.isFinite(n) && (entry.min === undefined ? n > 0 : n >= entry.min);
      return ok ? undefined : `${k} must be a number of seconds${entry.min === 0 ? ' (0: off)' : ''}, not ${JSON.stringify(value)}`;
    }
    case 'integer': {
      const n = typeof value === 'string' ? Number(value) : value;
      if (!Number.isInteger(n)) return `${k} must be a whole number${entry.min !== undefined ? `, ${entry.min} or more` : ''}, not ${JSON.stringify(value)}`;
      return entry.min !== undefined && (n as number) < entry.min ? `${k} must be ${entry.min} or more, not ${JSON.stringify(value)}` : undefined;
    }
    case 'string':
      if (typeof value === 'object') return `${k} must be a single value, not a ${Array.isArray(value) ? 'list' : 'mapping'}`;
      if (entry.values && !entry.values.includes(String(value))) {
        return `${k} ${JSON.stringify(value)} is not supported by mxplay (it takes ${entry.values.join(', ')})`;
      }
      return undefined;
    default:
      return undefined;
  }
}
