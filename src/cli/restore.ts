import { stdin, stdout, stderr } from 'node:process';
import { UserError } from '../errors.ts';
import type { Connection } from '../transport/connection.ts';
import { q } from '../resources/sh.ts';
import { confirm } from '../ui/prompt.ts';
import { backupWorks, connectTo } from './backup.ts';
import { buildRun, type RunInputs } from './run.ts';

/**
 * `mxplay restore --host H [--archive NAME]`: the restore script the backup role installs on the
 * host (/usr/local/sbin/mxplay-restore), run over SSH. The script holds the logic, so a restore
 * works the same by hand on the host; this command picks the host from the inventory, asks, runs
 * it and reports what it said. It replaces the host's database, media and signing key.
 */

const RESTORE_SCRIPT = '/usr/local/sbin/mxplay-restore';

/** What borg names archives (and what the role's prefixes allow): nothing a shell or borg reads as syntax. */
const ARCHIVE = /^[A-Za-z0-9._][A-Za-z0-9._:+-]*$/;

export function restoreInvocation(archive: string | undefined): string {
  if (archive !== undefined && !ARCHIVE.test(archive)) {
    throw new UserError(`--archive '${archive}': not an archive name (letters, digits and . _ : + -, not first -; \`borg list\` on the host shows them)`);
  }
  // Its output interleaved as the user would see it on the host.
  return `${RESTORE_SCRIPT}${archive ? ` ${q(archive)}` : ''} 2>&1`;
}

export interface RestoreArgs extends RunInputs {
  host: string;
  archive?: string;
  yes: boolean;
}

export async function restoreCommand(a: RestoreArgs): Promise<number> {
  const script = restoreInvocation(a.archive);
  // Only that host is built (and must be one of the inventory's: --limit says so if not).
  const built = await buildRun({ ...a, limit: a.host });
  const works = backupWorks(built.works).filter((w) => w.host.name === a.host);
  if (!works.length) throw new UserError(`host ${a.host} has no backup role in ${a.playbook}: nothing there knows its repository`);
  const w = works[0]!;
  const what = `${a.archive ? `archive ${a.archive}` : 'the newest archive'} onto ${a.host}: its Synapse database, media store and signing key are replaced`;
  if (!a.yes) {
    if (!stdin.isTTY) {
      stderr.write(`Not restoring ${what}. Without a terminal to ask on, give --yes.\n`);
      return 1;
    }
    if (!(await confirm(`Restore ${what}?`))) {
      stderr.write('Nothing restored.\n');
      return 1;
    }
  }
  stderr.write(`Restoring ${what}\n`);
  const t0 = Date.now();
  let conn: Connection | undefined;
  try {
    conn = await connectTo(w);
    const r = await conn.run(script);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const said = built.secrets.mask(r.stdout + r.stderr).trimEnd();
    stdout.write(said ? `${said.split('\n').map((l) => `  ${l}`).join('\n')}\n` : '');
    if (r.code !== 0) {
      stderr.write(`error: the restore on ${a.host} failed (exit ${r.code}) after ${secs}s\n`);
      return 1;
    }
    stdout.write(`restored ${a.host} in ${secs}s\n`);
    return 0;
  } finally {
    await conn?.close().catch(() => {});
  }
}
