// What the backup role writes on the homeserver host, as pure functions of its settings: the
// backup and restore scripts, the systemd units, the SSH key pair and the health probe that the
// recap of every run shows. Every value reaching a shell goes through q(); every value reaching
// SQL is an identifier quoted for PostgreSQL, then the whole statement shell-quoted.
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { q } from 'mxplay';

/** Where the role keeps its secrets (root only) and its state. */
export const ETC_DIR = '/etc/mxplay-backup';
export const PASSPHRASE_FILE = `${ETC_DIR}/passphrase`;
export const KEY_FILE = `${ETC_DIR}/id_ed25519`;
export const KNOWN_HOSTS_FILE = `${ETC_DIR}/known_hosts`;
export const STATE_DIR = '/var/lib/mxplay-backup';
/** What pg_dump writes before borg reads it: also the path the dump has inside every archive. */
export const DUMP_DIR = `${STATE_DIR}/database`;
export const BACKUP_SCRIPT = '/usr/local/sbin/mxplay-backup';
export const RESTORE_SCRIPT = '/usr/local/sbin/mxplay-restore';
export const UNIT = 'mxplay-backup.service';
export const TIMER = 'mxplay-backup.timer';
export const UNIT_DIR = '/etc/systemd/system';
/** borg create's --json of the last successful backup: what `mxplay backup` reports. */
export const LAST_CREATE = `${STATE_DIR}/last-create.json`;
/** The name of the last archive made and pruned without error; its mtime is when. */
export const LAST_SUCCESS = `${STATE_DIR}/last-success`;
/** The step that failed last and its exit status; its mtime is when. */
export const LAST_FAILURE = `${STATE_DIR}/last-failure`;
/** Backup and restore never run at once (a restore drops the database a dump would read). */
const LOCK = '/run/lock/mxplay-backup';
/** Synapse's signing key, as both packages (and the synapse role) name it. */
export const SIGNING_KEY = '/etc/matrix-synapse/homeserver.signing.key';
const SYNAPSE_CONFIG = '/etc/matrix-synapse';

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
  /** borg's --keep-last: the newest N archives whatever their age (0: not used). */
  last: number;
}

export interface BackupSettings {
  /** ssh://USER@HOST:PORT/PATH of this host's repository. */
  repository: string;
  /** Archives are PREFIX-<time>; prune and "latest" look only at these. */
  prefix: string;
  retention: Retention;
  dbName: string;
  dbOwner: string;
  mediaStore: string;
  httpPort: number;
  /** A pinned host key line for known_hosts: ssh then refuses any other key. */
  pinnedHostKey: boolean;
}

/** A PostgreSQL identifier, double-quoted: any name, no injection. */
export const pgIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** The repository URL borg takes (borg 1.x: ssh://user@host:port/absolute/path). */
export function repositoryUrl(user: string, address: string, port: number, path: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `ssh://${user}@${host}:${port}${path}`;
}

/** The environment every borg call of the scripts gets: the passphrase only as a root-only file borg reads. */
export function borgEnvironment(s: Pick<BackupSettings, 'repository' | 'pinnedHostKey'>): string {
  const rsh = [
    'ssh', '-i', KEY_FILE, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${KNOWN_HOSTS_FILE}`,
    // Pinned: only the inventory's key. Otherwise the first key seen is kept and checked after.
    '-o', `StrictHostKeyChecking=${s.pinnedHostKey ? 'yes' : 'accept-new'}`,
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=6',
  ].join(' ');
  return [
    `export BORG_REPO=${q(s.repository)}`,
    `export BORG_PASSCOMMAND=${q(`cat ${PASSPHRASE_FILE}`)}`,
    `export BORG_RSH=${q(rsh)}`,
    // Cache, security records and borg's own config beside the role's state, not in root's home.
    `export BORG_BASE_DIR=${STATE_DIR}/borg`,
    // A repository host that moved (a new address) is the same repository: its key says so.
    'export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes',
    'export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no',
  ].join('\n');
}

// Every borg call waits up to 10 min for the repository's lock (borg's default is 1 s): a `borg list`
// by hand, or a restore's extract, must not make a scheduled backup fail.

/** borg prune's rules: only the counts that are set, only this host's archives. */
export function pruneArguments(prefix: string, r: Retention): string {
  const rules = [
    r.last > 0 && `--keep-last ${r.last}`,
    r.daily > 0 && `--keep-daily ${r.daily}`,
    r.weekly > 0 && `--keep-weekly ${r.weekly}`,
    r.monthly > 0 && `--keep-monthly ${r.monthly}`,
  ].filter(Boolean);
  if (!rules.length) throw new Error('at least one retention count must be positive');
  return `--glob-archives ${q(`${prefix}-*`)} ${rules.join(' ')}`;
}

/** Relative path of an absolute one, as borg stores it inside an archive. */
const inArchive = (p: string) => p.replace(/^\/+/, '');

/**
 * The backup: a consistent dump of Synapse's database (pg_dump -Fc takes one snapshot), what a
 * restore needs to make the database again (its owner, encoding and collation; the roles), then
 * one borg archive of the dump, the media store, /etc/matrix-synapse (the signing key with it),
 * then prune and compact. The dump comes first: media written meanwhile is in the archive too, so
 * no event of the dump points at a file the archive lacks. Any failing step fails the script (and
 * the unit); the step and its status are kept for the recap.
 */
export function backupScript(s: BackupSettings): string {
  const archive = `${s.prefix}-{now:%Y-%m-%dT%H:%M:%S}`;
  const info = [
    'SELECT',
    "'name=' || current_database()",
    "|| E'\\nowner=' || pg_get_userbyid(datdba)",
    "|| E'\\nencoding=' || pg_encoding_to_char(encoding)",
    "|| E'\\nlc_collate=' || datcollate || E'\\nlc_ctype=' || datctype",
    'FROM pg_database WHERE datname = current_database()',
  ].join(' ');
  return `#!/bin/sh
# managed by mxplay, role backup: one backup of this homeserver to its borg repository.
# Run by ${UNIT} (its timer, or \`mxplay backup\`); a failing step fails the unit.
set -eu
umask 077
${borgEnvironment(s)}
step=start
# The failing step, for the recap of the next mxplay run (and systemctl status).
trap 'rc=$?; if [ "$rc" -ne 0 ]; then printf "%s (exit %s)\\n" "$step" "$rc" > ${LAST_FAILURE}; echo "backup failed at $step (exit $rc)" >&2; fi' EXIT
exec 9>${LOCK}
step='waiting for a restore to end'
flock -w 7200 9
t0=$(date +%s)

step='pg_dump'
rm -rf ${DUMP_DIR}
mkdir -m 0700 ${DUMP_DIR}
# As the postgres superuser over the local socket; root writes the files (postgres cannot read this folder).
runuser -u postgres -- pg_dump -Fc -d ${q(s.dbName)} > ${DUMP_DIR}/synapse.dump
runuser -u postgres -- psql -XAtq -d ${q(s.dbName)} -c ${q(info)} > ${DUMP_DIR}/database.txt
runuser -u postgres -- pg_dumpall --roles-only > ${DUMP_DIR}/roles.sql

step='borg create'
rc=0
# Exit 1 is borg's warning (a file changed while it was read): the archive is made.
borg create --lock-wait 600 --json --compression zstd,3 ${q(`::${archive}`)} ${DUMP_DIR} ${q(s.mediaStore)} ${SYNAPSE_CONFIG} > ${LAST_CREATE}.new || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
mv ${LAST_CREATE}.new ${LAST_CREATE}
name=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["archive"]["name"])' < ${LAST_CREATE})

step='borg prune'
rc=0
borg prune --lock-wait 600 ${pruneArguments(s.prefix, s.retention)} || rc=$?
[ "$rc" -le 1 ] || exit "$rc"
step='borg compact'
borg compact --lock-wait 600

rm -rf ${DUMP_DIR}
printf '%s\\n' "$name" > ${LAST_SUCCESS}.new
mv ${LAST_SUCCESS}.new ${LAST_SUCCESS}
rm -f ${LAST_FAILURE}
echo "archive $name made and old archives pruned in $(( $(date +%s) - t0 ))s"
`;
}

/**
 * `init`: the repository made once. A repository that answers (this host moved, or its marker was
 * lost) is kept: borg info works only with the right passphrase, and a repository that exists but
 * does not open makes borg init fail too, saying why. The marker names the repository, so a new
 * repository is made when the inventory names another one.
 */
export function initScript(s: Pick<BackupSettings, 'repository' | 'pinnedHostKey'>, marker: string): string {
  return [
    'set -eu',
    borgEnvironment(s),
    'if ! borg info --lock-wait 600 >/dev/null 2>&1; then borg init --encryption=repokey-blake2; fi',
    `touch ${q(marker)}`,
  ].join('\n');
}

/**
 * The restore, run on the homeserver host by `mxplay restore` (or by hand): the archive (the
 * newest of this host's when none is named) is extracted aside; Synapse stops; its database is
 * made anew, UTF8 with C collation from template0, owned by Synapse's role, and the dump restored
 * into it; the media store and the signing key are put in place; Synapse starts and must answer.
 */
export function restoreScript(s: BackupSettings): string {
  const db = pgIdent(s.dbName);
  const drop = `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`;
  const create = `CREATE DATABASE ${db} OWNER ${pgIdent(s.dbOwner)} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`;
  const media = q(s.mediaStore);
  const mediaIn = q(inArchive(s.mediaStore));
  return `#!/bin/sh
# managed by mxplay, role backup: restore an archive of this homeserver's repository onto this host.
# Usage: ${RESTORE_SCRIPT} [ARCHIVE]   (default: the newest archive of ${s.prefix})
set -eu
umask 077
${borgEnvironment(s)}
exec 9>${LOCK}
flock -n 9 || { echo 'a backup or restore is running on this host: try again once it has ended' >&2; exit 75; }
archive=\${1-}
if [ -z "$archive" ]; then
  archive=$(borg list --lock-wait 600 --short --last 1 --glob-archives ${q(`${s.prefix}-*`)})
  [ -n "$archive" ] || { echo ${q(`the repository holds no archive of ${s.prefix}`)} >&2; exit 1; }
fi
work=${STATE_DIR}/restore
rm -rf "$work"
mkdir -m 0700 "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "extracting archive $archive"
borg extract --lock-wait 600 -- "::$archive"
[ -s ${inArchive(DUMP_DIR)}/synapse.dump ] || { echo "archive $archive holds no database dump" >&2; exit 1; }
[ -s ${inArchive(SIGNING_KEY)} ] || { echo "archive $archive holds no signing key" >&2; exit 1; }

echo 'stopping Synapse'
systemctl stop matrix-synapse.service
echo 'restoring the database into a new UTF8 / C database'
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres -c ${q(drop)} -c ${q(create)}
# Objects are made as Synapse's role, whatever the old server's owner was called.
runuser -u postgres -- pg_restore --exit-on-error --no-owner --no-privileges --role=${q(s.dbOwner)} -d ${q(s.dbName)} < ${inArchive(DUMP_DIR)}/synapse.dump

echo 'restoring the media store and the signing key'
if [ -d ${mediaIn} ]; then
  rm -rf ${q(`${s.mediaStore}.mxplay-old`)}
  if [ -e ${media} ]; then mv ${media} ${q(`${s.mediaStore}.mxplay-old`)}; fi
  mv ${mediaIn} ${media}
  rm -rf ${q(`${s.mediaStore}.mxplay-old`)}
else
  echo "archive $archive holds no media store at "${q(`${s.mediaStore}: media left as it is`)} >&2
fi
install -m 0600 -o matrix-synapse -g nogroup ${inArchive(SIGNING_KEY)} ${SIGNING_KEY}

echo 'starting Synapse'
systemctl start matrix-synapse.service
t=$(( $(date +%s) + 300 ))
until curl -fsS -o /dev/null http://127.0.0.1:${s.httpPort}/health 2>/dev/null; do
  if [ "$(date +%s)" -ge "$t" ]; then echo 'Synapse did not answer /health within 300 s after the restore' >&2; journalctl -u matrix-synapse.service -n 30 --no-pager >&2; exit 1; fi
  sleep 0.5
done
keys=$(curl -fsS http://127.0.0.1:${s.httpPort}/_matrix/key/v2/server | python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["verify_keys"])))')
echo "restored archive $archive; Synapse answers, signing key $keys"
`;
}

export function serviceUnit(): string {
  return `# managed by mxplay, role backup
[Unit]
Description=Backup of this Matrix homeserver to its borg repository (mxplay)
Wants=network-online.target
After=network-online.target postgresql.service

[Service]
Type=oneshot
ExecStart=${BACKUP_SCRIPT}
Nice=10
IOSchedulingClass=idle
`;
}

export function timerUnit(onCalendar: string, randomizedDelayS: number): string {
  return `# managed by mxplay, role backup
[Unit]
Description=Scheduled backup of this Matrix homeserver (mxplay)

[Timer]
OnCalendar=${onCalendar}
RandomizedDelaySec=${randomizedDelayS}
# The spread comes from RandomizedDelaySec; systemd's default 1 min accuracy would add its own.
AccuracySec=1s
# A backup missed while the host was off runs at the next boot.
Persistent=true

[Install]
WantedBy=timers.target
`;
}

/** One SSH string field: its length, then its bytes. */
function sshString(b: Buffer | string): Buffer {
  const data = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/**
 * An ed25519 key pair from a secret seed, the same every time: the homeserver host gets the
 * private key and the repository host the public one, both built from mxplay_master_secret on the
 * control machine, so neither host has to be read first (and a new host of the same inventory
 * name gets the same key). The private key is OpenSSH's own file format, unencrypted.
 */
export function sshKeyPair(seedSecret: string, comment: string): { privateKey: string; publicKey: string } {
  const seed = createHash('sha256').update(`mxplay backup ssh key\0${seedSecret}`).digest();
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  const pub = spki.subarray(spki.length - 32);
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  // The check integers are random in ssh-keygen's files; any equal pair is valid.
  const check = seed.subarray(0, 4);
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const nkeys = Buffer.alloc(4);
  nkeys.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), nkeys, sshString(pubBlob), sshString(priv)]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
  };
}

/**
 * The authorized_keys line of one client on the repository host: its key may run only borg serve,
 * only in its own repository folder, and nothing else ssh offers (no pty, forwarding, agent).
 */
export function authorizedKeyLine(publicKey: string, repositoryDir: string): string {
  return `command="borg serve --restrict-to-path ${repositoryDir}",restrict ${publicKey}`;
}

/** What the health probe reads on the host, and the recap's line from it. */
export interface BackupHealth {
  /** systemd's ActiveState of the service ('failed' after a failed run). */
  active: string;
  /** systemd's Result of the last run (success, exit-code, ...). */
  result: string;
  /** Epoch seconds of the last successful backup (0: none). */
  success: number;
  archive: string;
  /** Epoch seconds of the last failed run (0: none since the last success). */
  failure: number;
  failedStep: string;
}

/**
 * One JSON line of the state above. Values are cut to characters that need no JSON escaping, so
 * nothing a file holds can break the line.
 */
export function healthProbe(): string {
  const clean = (cmd: string, chars: string) => `$( { ${cmd}; } 2>/dev/null | head -c 200 | tr -cd ${q(chars)})`;
  const epoch = (f: string) => `$( { stat -c %Y ${f} || echo 0; } 2>/dev/null | tr -cd 0-9)`;
  return [
    `mxp_a=${clean(`systemctl show -p ActiveState --value ${UNIT}`, 'a-z-')}`,
    `mxp_r=${clean(`systemctl show -p Result --value ${UNIT}`, 'a-z-')}`,
    `mxp_n=${clean(`head -n 1 ${LAST_SUCCESS}`, 'A-Za-z0-9._:+-')}`,
    `mxp_f=${clean(`head -n 1 ${LAST_FAILURE}`, 'A-Za-z0-9 ._()-')}`,
    `mxp_s=${epoch(LAST_SUCCESS)}`,
    `mxp_t=${epoch(LAST_FAILURE)}`,
    `printf '{"active":"%s","result":"%s","archive":"%s","failedStep":"%s","success":%s,"failure":%s}\\n' "$mxp_a" "$mxp_r" "$mxp_n" "$mxp_f" "\${mxp_s:-0}" "\${mxp_t:-0}"`,
  ].join('\n');
}

const utc = (epoch: number) => `${new Date(epoch * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function age(seconds: number): string {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** A backup older than this is worth a warning with a daily timer: two runs were missed. */
const STALE_S = 50 * 3600;

/** The recap's line: the last successful backup, and a failed run louder than anything else. */
export function healthReport(h: BackupHealth, nowS = Date.now() / 1000): { level: 'ok' | 'warn' | 'fail'; text: string } {
  const last = h.success > 0 ? `last successful backup ${utc(h.success)} (${age(nowS - h.success)}), archive ${h.archive || '?'}` : 'no successful backup yet';
  const failed = h.active === 'failed' || (h.failure > 0 && h.failure >= h.success);
  if (failed) {
    const when = h.failure > 0 ? ` ${utc(h.failure)}` : '';
    const step = h.failedStep ? ` at ${h.failedStep}` : h.result && h.result !== 'success' ? ` (${h.result})` : '';
    return { level: 'fail', text: `backup FAILED${when}${step}; ${last}; see journalctl -u ${UNIT}` };
  }
  if (h.success === 0) return { level: 'warn', text: `backup: ${last} (the timer runs it; mxplay backup runs one now)` };
  return { level: nowS - h.success > STALE_S ? 'warn' : 'ok', text: `backup: ${last}` };
}
