// vitest globalSetup for the e2e project: the lab's shared pieces (tools,
// bridge, apt proxy, base rootfs) once per run; at the end, this run's hosts
// are stopped, and the whole lab too unless other hosts still use it (see
// labDownForRun), also when the run is interrupted.
import { spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ensureLabInfra, labDownForRun, LOG_DIR } from '../lab/index.ts';

/** Hosts that this run's test files start belong to this run (the workers
 * inherit the variable): teardown stops them and leaves a developer's lab or
 * another run's hosts alone. */
const OWNER = `run:${process.pid}`;
let tornDown = false;

/** On Ctrl-C vitest calls process.exit() from its own signal handler, so an
 * async teardown here could never finish. Instead a detached
 * `npm run lab -- down --owner run:PID` is started, which outlives this
 * process (and stops this run's hosts once this process is gone). */
function cleanUpInBackground(why: string): void {
  if (tornDown) return;
  tornDown = true;
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const labCli = fileURLToPath(new URL('../lab/cli.ts', import.meta.url));
  const log = openSync(`${LOG_DIR}/down-after-interrupt.log`, 'a');
  const child = spawn(process.execPath, [tsxCli, labCli, 'down', '--owner', OWNER], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  process.stderr.write(`\n[lab] ${why}: stopping the lab in the background (log: ${LOG_DIR}/down-after-interrupt.log)\n`);
}

/** When only this process gets the signal (CI's timeout, `kill PID`; Ctrl-C
 * reaches the whole process group), vitest exits without ending its worker
 * processes, which then spin on a closed channel and could start hosts
 * behind the cleanup's back. So our own children end first. */
function endChildren(): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) process.kill(Number(entry), 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  endChildren();
  cleanUpInBackground(`got ${sig}`);
  // If nobody else (vitest) handles the signal, end the process as the
  // default action would have.
  if (process.listenerCount(sig) === 1) process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
}
const onExit = () => cleanUpInBackground('exiting before teardown');

export default async function setup(): Promise<() => Promise<void>> {
  process.env.MXPLAY_LAB_OWNER = OWNER;
  await mkdir(LOG_DIR, { recursive: true });
  // prepend: run before vitest's own handler, which exits at once.
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
  process.on('exit', onExit);
  await ensureLabInfra();
  return async () => {
    if (tornDown) return;
    // The handlers stay until teardown is done: vitest exits the process if
    // teardown outlives its teardownTimeout, and the 'exit' hook then hands
    // the rest of the cleanup to a background `down`.
    await labDownForRun(OWNER);
    tornDown = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
}
