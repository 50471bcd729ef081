import { createHash } from 'node:crypto';
import {
  defineRole, z, secret, apt, command, directory, file, service, UserError, absolutePath, hostOrIp, port,
  type Resource, type TaskContext,
} from 'mxplay';
import {
  BACKUP_SCRIPT, ETC_DIR, KEY_FILE, KNOWN_HOSTS_FILE, PASSPHRASE_FILE, RESTORE_SCRIPT, STATE_DIR, TIMER, UNIT, UNIT_DIR,
  backupScript, healthProbe, healthReport, initScript, repositoryUrl, restoreScript, serviceUnit, sshKeyPair, timerUnit,
  type BackupHealth, type BackupSettings,
} from './borg.ts';
import { CLIENT_NAME, repositoryVars } from './shared.ts';

const RESTART_TIMER = 'restart backup timer';
const DAEMON_RELOAD = 'systemctl daemon-reload';

/** What systemd's OnCalendar takes (daily, Mon *-*-* 03:00:00, *:0/15 ...): no line break, no quote, no `;` or `$`. */
const CALENDAR = /^[A-Za-z0-9 *:,./~+-]+$/;

/** Where the homeserver reaches the repository host: the variable, else that host's ansible_host, else its name. */
function repositoryAddress(v: { backup_repository_host: string; backup_repository_address?: string | undefined }, ctx: TaskContext): string {
  if (v.backup_repository_address) return v.backup_repository_address;
  const there = ctx.inventoryVars(v.backup_repository_host);
  if (!there) {
    throw new UserError(`backup_repository_host: '${v.backup_repository_host}' is not a host of the inventory (the repository host must be one: the backup_repository role prepares it)`, { key: 'backup_repository_host' });
  }
  const address = there.ansible_host ?? there.ansible_ssh_host ?? v.backup_repository_host;
  if (typeof address !== 'string' || !hostOrIp().safeParse(address).success) {
    throw new UserError(`backup_repository_host: the address of ${v.backup_repository_host} (${String(address)}) is no host name or IP address: set backup_repository_address`, { key: 'backup_repository_address' });
  }
  return address;
}

export default defineRole({
  name: 'backup',
  description: "Encrypted borg backups of Synapse (database dump, media, signing key, config) to a repository host, on a systemd timer, with retention",
  vars: z.object({
    backup_repository_host: z.string().min(1).describe('the inventory host holding the repository (prepared by the backup_repository role)'),
    backup_repository_address: hostOrIp('backup.example.com').optional()
      .describe("address this host reaches the repository host at; default: that host's ansible_host, else its inventory name"),
    backup_repository_port: port.default(22).describe("the repository host's SSH port"),
    ...repositoryVars,
    backup_repository_host_key: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+=*$/, "a public host key like 'ssh-ed25519 AAAA…' (type and base64, no comment)").optional()
      .describe("the repository host's SSH host key (`cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub` there): pinned, only that key is accepted; unset: the first key seen is kept and checked on later connections"),
    backup_passphrase: secret().refine((s) => !/[\r\n]/.test(s), 'no line breaks (borg reads the passphrase as one line)').optional()
      .describe("the repository's passphrase (repokey-blake2 encryption); derived from mxplay_master_secret when unset. Keep it outside the homeserver and the repository host too: without it no archive can be read"),
    backup_archive_prefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits and . _ - (archives are PREFIX-<time>)').optional()
      .describe("archives are PREFIX-<date>T<time>; default: the inventory host name. Prune and the newest archive look only at this prefix"),
    backup_on_calendar: z.string().regex(CALENDAR, "a systemd calendar expression like 'daily', '*-*-* 03:30:00' or '*:0/15'").default('*-*-* 03:30:00')
      .describe("when the timer runs the backup (systemd OnCalendar; `systemd-analyze calendar '...'` shows the next times)"),
    backup_randomized_delay_s: z.number().int().min(0).default(1800).describe('a random delay up to this many seconds after each scheduled time (spreads hosts sharing a repository host)'),
    backup_keep_daily: z.number().int().min(0).default(7).describe('borg prune --keep-daily: the last archive of each of this many days'),
    backup_keep_weekly: z.number().int().min(0).default(4).describe('borg prune --keep-weekly'),
    backup_keep_monthly: z.number().int().min(0).default(6).describe('borg prune --keep-monthly'),
    backup_keep_last: z.number().int().min(0).default(0).describe('borg prune --keep-last: also the newest N archives, whatever their age (0: not used)'),
    // The synapse role's variables the backup reads, with its defaults: one value per host.
    synapse_db_name: z.string().min(1).default('synapse'),
    synapse_db_user: z.string().min(1).default('synapse'),
    synapse_db_host: z.string().default('localhost'),
    synapse_media_store_path: absolutePath.default('/var/lib/matrix-synapse/media'),
    synapse_http_port: z.number().int().default(8008),
  }).refine((v) => v.backup_keep_daily + v.backup_keep_weekly + v.backup_keep_monthly + v.backup_keep_last > 0, {
    path: ['backup_keep_daily'],
    message: 'every backup_keep_* count is 0: borg prune would keep nothing; set at least one',
  }).refine((v) => ['localhost', '127.0.0.1', '::1', ''].includes(v.synapse_db_host) || v.synapse_db_host.startsWith('/'), {
    path: ['synapse_db_host'],
    message: "the backup role dumps Synapse's database through this host's PostgreSQL: run it on the database host, or keep synapse_db_host local",
  }),
  tasks: (v, ctx) => {
    const s = settings(v, ctx);
    const passphrase = v.backup_passphrase ?? ctx.derivedSecret('backup_passphrase');
    const key = sshKeyPair(ctx.derivedSecret('backup_ssh_key'), `mxplay-backup@${ctx.host}`);
    // Made once per repository: a new repository (address, user or path) is made again.
    const marker = `${STATE_DIR}/repository-${createHash('sha256').update(s.repository).digest('hex').slice(0, 12)}`;
    const address = repositoryAddress(v, ctx);
    return [
      apt({ names: ['borgbackup', 'openssh-client'] }),
      directory({ path: ETC_DIR, mode: 0o700 }),
      file({ path: PASSPHRASE_FILE, content: passphrase, mode: 0o600, sensitive: true }),
      file({ path: KEY_FILE, content: key.privateKey, mode: 0o600, sensitive: true }),
      file({ path: `${KEY_FILE}.pub`, content: `${key.publicKey}\n`, mode: 0o644 }),
      v.backup_repository_host_key && file({
        path: KNOWN_HOSTS_FILE,
        // ssh files a host on port 22 under its address, any other port as [address]:port.
        content: `${v.backup_repository_port === 22 ? address : `[${address}]:${v.backup_repository_port}`} ${v.backup_repository_host_key}\n`,
        mode: 0o644,
      }),
      directory({ path: STATE_DIR, mode: 0o700 }),
      file({ path: BACKUP_SCRIPT, content: backupScript(s), mode: 0o750 }),
      file({ path: RESTORE_SCRIPT, content: restoreScript(s), mode: 0o750 }),
      file({ path: `${UNIT_DIR}/${UNIT}`, content: serviceUnit(), mode: 0o644, onChange: DAEMON_RELOAD }),
      file({ path: `${UNIT_DIR}/${TIMER}`, content: timerUnit(v.backup_on_calendar, v.backup_randomized_delay_s), mode: 0o644, onChange: DAEMON_RELOAD, notify: RESTART_TIMER }),
      command({ name: `init the borg repository ${s.repository}`, creates: marker, cmd: initScript(s, marker) }),
      service({ name: TIMER, enabled: true, state: 'started' }),
      backupHealth(),
    ];
  },
  handlers: { [RESTART_TIMER]: service.restart(TIMER) },
});

function settings(v: {
  backup_repository_host: string; backup_repository_address?: string | undefined; backup_repository_port: number; backup_repository_user: string;
  backup_repository_path: string; backup_repository_host_key?: string | undefined; backup_archive_prefix?: string | undefined;
  backup_keep_daily: number; backup_keep_weekly: number; backup_keep_monthly: number; backup_keep_last: number;
  synapse_db_name: string; synapse_db_user: string; synapse_media_store_path: string; synapse_http_port: number;
}, ctx: TaskContext): BackupSettings {
  // The host's repository folder is named after it, on the repository host too.
  if (!CLIENT_NAME.test(ctx.host)) {
    throw new UserError(`the inventory host name '${ctx.host}' cannot name a repository folder (letters, digits and . _ - only)`, { key: 'backup_repository_host' });
  }
  const prefix = v.backup_archive_prefix ?? ctx.host;
  return {
    repository: repositoryUrl(v.backup_repository_user, repositoryAddress(v, ctx), v.backup_repository_port, `${v.backup_repository_path}/${ctx.host}`),
    prefix,
    retention: { daily: v.backup_keep_daily, weekly: v.backup_keep_weekly, monthly: v.backup_keep_monthly, last: v.backup_keep_last },
    dbName: v.synapse_db_name,
    dbOwner: v.synapse_db_user,
    mediaStore: v.synapse_media_store_path,
    httpPort: v.synapse_http_port,
    pinnedHostKey: !!v.backup_repository_host_key,
  };
}

/**
 * Not a change but a report: the last successful backup and a failed run, read in the probe every
 * run makes anyway, shown in the recap of each `mxplay run` (and --check).
 */
function backupHealth(): Resource<BackupHealth> {
  return {
    type: 'backup_health',
    id: UNIT,
    probe: healthProbe(),
    plan: () => null,
    report: (h) => (h ? healthReport(h) : undefined),
    notify: [],
    tags: [],
  };
}
