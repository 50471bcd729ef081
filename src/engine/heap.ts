import { setFlagsFromString } from 'node:v8';

/** From this many hosts a run bounds V8's heap growth. */
export const MANY_HOSTS = 20;

/** How far V8's heap may grow past what was live at its last full collection, in percent. */
export const HEAP_GROWTH_PERCENT = 20;

/**
 * A run over many hosts holds every host's plan at once (one question covers them all) and makes
 * much short-lived garbage on the way (templates rendered, probes parsed). V8 lets its heap grow up
 * to four times what is live before it collects, the more so the busier the machine, so the peak
 * depended on the load: 218 to 336 MB for the same first run over 50 hosts × 602 resources. Bounded
 * at 20% it peaked at 189 MB for about 2.5% more CPU (README, Performance; bench/runs/). A smaller run keeps V8's
 * default: there the bound cost 4% of a 1-host no-op and saved nothing.
 */
export function boundHeapFor(hosts: number): void {
  if (hosts >= MANY_HOSTS) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWTH_PERCENT}`);
}
