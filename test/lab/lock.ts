// A lock file shared by every process that changes lab state (a test run's
// fixture, a background `down` after Ctrl-C, `npm run lab`, a second test
// run on the same machine). It holds the holder's pid, so a lock left by a
// killed process is taken over at once instead of after a timeout (a base
// build legitimately holds it for over a minute).
import { open, readFile, rm } from 'node:fs/promises';
import { processArgv } from './proc.ts';
import { sleep } from './wait.ts';

const GIVE_UP_MS = 20 * 60_000;

async function holderAlive(lockFile: string): Promise<boolean> {
  const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
  // An empty file is a holder between creating and writing it: alive.
  if (!pid) return true;
  return (await processArgv(pid)) !== undefined;
}

export async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await holderAlive(lockFile))) await rm(lockFile, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lockFile} has been held for 20 minutes; remove it if no lab command runs`);
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
