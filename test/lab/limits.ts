// Kernel limits that a few lab hosts never reach but dozens do. Every host runs its own systemd,
// dbus and getty, all as root of the control machine (no user namespace), and each holds inotify
// instances: about 7 per host, counted against root's fs.inotify.max_user_instances, 128 by
// default. Past ~17 hosts (fewer with the control machine's own) a booting systemd fails with
// "Too many open files". Limits are only ever raised here, never lowered.
import { readFile, writeFile } from 'node:fs/promises';
import { log } from './log.ts';

/** Enough for the bench's 50 hosts beside an e2e run's (about 8 inotify instances per host). */
const WANTED: ReadonlyArray<{ key: string; min: number }> = [
  { key: 'fs/inotify/max_user_instances', min: 1024 },
  { key: 'fs/inotify/max_user_watches', min: 524288 },
];

export async function ensureKernelLimits(): Promise<void> {
  for (const { key, min } of WANTED) {
    const path = `/proc/sys/${key}`;
    const now = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (!Number.isFinite(now) || now >= min) continue;
    try {
      await writeFile(path, `${min}\n`);
      log(`raised ${key.replaceAll('/', '.')} from ${now} to ${min} (lab hosts each hold some)`);
    } catch (e) {
      // a read-only /proc/sys (inside a container): a few hosts still boot, dozens may not
      log(`could not raise ${key.replaceAll('/', '.')} from ${now} to ${min} (${(e as Error).message}): more than ~15 lab hosts may fail to boot`);
    }
  }
}
