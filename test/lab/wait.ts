// Readiness by polling with a deadline: never a fixed sleep, never forever.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface PollOptions {
  /** What we wait for, for the timeout message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Extra detail for the error when the wait fails (e.g. a console log tail). */
  explain?: () => Promise<string> | string;
}

/** Thrown by a probe when waiting longer cannot help (the process died). */
export class GiveUp extends Error {}

/** Calls `probe` until it returns a value other than undefined/false, or throws
 * once the deadline has passed. A probe that throws counts as "not yet"; its
 * last error is shown if the deadline passes. A GiveUp ends the wait at once. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false>,
  opts: PollOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
      if (err instanceof GiveUp) break;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(opts.intervalMs ?? 100, Math.max(0, deadline - Date.now())));
  }
  const parts = [
    lastError instanceof GiveUp
      ? `gave up waiting for ${opts.what}`
      : `timed out after ${(opts.timeoutMs / 1000).toFixed(0)} s waiting for ${opts.what}`,
  ];
  if (lastError) parts.push(`last attempt: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  if (opts.explain) parts.push(await opts.explain());
  throw new Error(parts.join('\n'));
}
