import { stdout, stderr } from 'node:process';
import { UserError } from '../errors.ts';
import { pool } from '../engine/pool.ts';
import type { HostWork } from '../engine/work.ts';
import type { Connection } from '../transport/connection.ts';
import { openConnection } from '../transport/open.ts';
import { c } from '../ui/color.ts';
import { buildRun, type RunInputs } from './run.ts';

/**
 * `mxplay backup`: a backup now, on every selected host that has the backup role. It starts the
 * role's own unit (mxplay-backup.service), the one its timer starts: one script, one lock, one
 * place where a failure shows (systemctl, the journal, the recap of the next run). systemctl waits
 * for a oneshot unit to end, so the result is this backup's, or that of one already running.
 */

/** The unit and file the backup role installs (roles/backup/borg.ts). */
const UNIT = 'mxplay-backup.service';
const LAST_CREATE = '/var/lib/mxplay-backup/last-create.json';
export const BACKUP_ROLE = 'backup';

/** The hosts whose plays give them the backup role. */
export function backupWorks(works: HostWork[]): HostWork[] {
  return works.filter((w) => w.plays.some((p) => p.items.some((i) => i.role === BACKUP_ROLE)));
}

/** One connection to a host, as a run makes it. */
export const connectTo = (w: HostWork): Promise<Connection> => openConnection(w.host.name, w.params);

/**
 * Runs the unit and prints three lines: systemctl's exit status, then base64 of borg create's
 * --json (after a success) and of the unit's last journal lines (after a failure). Base64 keeps
 * whatever the journal says from being read as the next field.
 */
export const BACKUP_NOW_SCRIPT = [
  `systemctl start ${UNIT} >/dev/null 2>&1; rc=$?`,
  'echo "$rc"',
  `if [ "$rc" -eq 0 ]; then base64 -w0 ${LAST_CREATE}; fi; echo`,
  `if [ "$rc" -ne 0 ]; then { systemctl status --no-pager -n 0 ${UNIT}; journalctl -u ${UNIT} -n 25 --no-pager -o cat; } 2>&1 | base64 -w0; fi; echo`,
].join('\n');

export interface BackupOutcome {
  ok: boolean;
  archive?: string;
  /** Bytes: what the archive holds, and what it added to the repository after deduplication. */
  originalSize?: number;
  deduplicatedSize?: number;
  files?: number;
  /** borg create's own time, seconds. */
  borgSeconds?: number;
  /** Why it failed: systemctl's exit status and the unit's log. */
  error?: string;
}

const fromB64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Reads BACKUP_NOW_SCRIPT's output. */
export function parseBackupOutput(out: string, code: number): BackupOutcome {
  const [rc, create, log] = out.split('\n');
  if (code !== 0 || rc === undefined || !/^\d+$/.test(rc)) return { ok: false, error: `the backup could not be started (exit ${code})` };
  if (rc !== '0') {
    const said = fromB64(log).trim();
    return { ok: false, error: `${UNIT} failed (systemctl exit ${rc})${said ? `:\n${said}` : ''}` };
  }
  try {
    const j = JSON.parse(fromB64(create)) as { archive: { name: string; duration: number; stats: { original_size: number; deduplicated_size: number; nfiles: number } } };
    return {
      ok: true,
      archive: j.archive.name,
      originalSize: j.archive.stats.original_size,
      deduplicatedSize: j.archive.stats.deduplicated_size,
      files: j.archive.stats.nfiles,
      borgSeconds: j.archive.duration,
    };
  } catch {
    return { ok: false, error: `${UNIT} succeeded but ${LAST_CREATE} could not be read` };
  }
}

/** 1536 → "1.5 KiB". */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function backupLine(host: string, o: BackupOutcome, seconds: number, width: number): string {
  const name = host.padEnd(width);
  if (!o.ok) return `${c.red(name)}  FAILED after ${seconds.toFixed(1)}s`;
  return `${c.green(name)}  archive ${o.archive}  ${humanBytes(o.originalSize ?? 0)} (${humanBytes(o.deduplicatedSize ?? 0)} new after deduplication, ${o.files ?? 0} files)  ${seconds.toFixed(1)}s (borg create ${(o.borgSeconds ?? 0).toFixed(1)}s)`;
}

export async function backupCommand(a: RunInputs & { forks: number }): Promise<number> {
  const built = await buildRun(a);
  const works = backupWorks(built.works);
  if (!works.length) {
    throw new UserError(`no host of ${a.playbook}${a.limit ? ` within --limit ${a.limit}` : ''} has the backup role: nothing to back up`);
  }
  const mask = (s: string) => built.secrets.mask(s);
  stderr.write(`Backing up ${works.length} host${works.length === 1 ? '' : 's'}: ${works.map((w) => w.host.name).join(', ')}\n`);
  const results = await pool(works, a.forks, async (w) => {
    const t0 = Date.now();
    let conn: Connection | undefined;
    try {
      conn = await connectTo(w);
      const r = await conn.run(BACKUP_NOW_SCRIPT);
      return { host: w.host.name, outcome: parseBackupOutput(r.stdout, r.code), seconds: (Date.now() - t0) / 1000 };
    } catch (e) {
      return { host: w.host.name, outcome: { ok: false, error: (e as Error).message } as BackupOutcome, seconds: (Date.now() - t0) / 1000 };
    } finally {
      await conn?.close().catch(() => {});
    }
  });
  const width = Math.max(4, ...results.map((r) => r.host.length));
  const lines = ['', c.bold('BACKUP'), ...results.map((r) => `  ${backupLine(r.host, r.outcome, r.seconds, width)}`)];
  for (const r of results) if (r.outcome.error) lines.push('', c.red(`${r.host}:`), ...r.outcome.error.split('\n').map((l) => `  ${l}`));
  stdout.write(mask(lines.join('\n')) + '\n');
  return results.every((r) => r.outcome.ok) ? 0 : 1;
}
