// Progress lines on stderr, so `npm run lab` and e2e runs show where time
// goes. MXPLAY_LAB_QUIET=1 silences them.
const quiet = process.env.MXPLAY_LAB_QUIET === '1';
const started = Date.now();

export function log(message: string): void {
  if (quiet) return;
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[lab ${t}s] ${message}\n`);
}

/** Runs `fn` and logs how long it took: the numbers the lab is judged by. */
export async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await fn();
  log(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return result;
}
