import type { Resource } from './types.ts';

/** Run the handlers notified so far, here, instead of at the end of the play (Ansible's flush_handlers). */
export function flushHandlers(): Resource {
  return { type: 'flush', id: 'handlers', probe: 'echo {}', plan: () => null, notify: [], tags: [], marker: 'flush_handlers' };
}
