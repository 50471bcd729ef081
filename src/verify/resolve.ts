import { lookup } from 'node:dns/promises';
import { isIpLiteral } from './http.ts';

/**
 * dns: names resolve as they do for everyone (what users meet). inventory: a name that a host of
 * the run serves (its checks' URLs) goes to that host's inventory address, as before a DNS switch
 * or in a lab without DNS; other names still go through DNS.
 */
export type ResolveMode = 'dns' | 'inventory';

export function resolver(mode: ResolveMode, served: ReadonlyMap<string, string>): (name: string) => Promise<string> {
  return async (name) => {
    if (isIpLiteral(name)) return name;
    const pinned = mode === 'inventory' ? served.get(name.toLowerCase()) : undefined;
    if (pinned) return pinned;
    try {
      return (await lookup(name)).address;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') {
        throw new Error(
          `${name} does not resolve on this machine (DNS ${code})` +
            (mode === 'dns' ? '; to check the hosts before the name is published, set mxplay_verify_resolve: inventory' : ', and no host of this run serves it'),
        );
      }
      throw e;
    }
  };
}
