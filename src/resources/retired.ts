import type { Resource } from './types.ts';
import { q } from './sh.ts';

/**
 * Files a role once wrote into a folder of its own (`<dir>/<name><extension>`) that the inventory
 * no longer declares: each is retired by `retire(name)`. Only names of [a-z0-9_-] are read, which
 * is all a role writing there may use: a file of another name was not the role's.
 */
export function retiredFiles(o: {
  type: string;
  dir: string;
  /** e.g. '.crt' */
  extension: string;
  keep: string[];
  summary: (gone: string[]) => string;
  retire: (name: string) => string;
  notify?: string[];
}): Resource<{ names?: string[] }> {
  const ext = o.extension.replace(/\./g, '\\.');
  return {
    type: o.type,
    id: `retired from ${o.dir}`,
    probe: `printf '{"names":['; ls -1 ${q(o.dir)} 2>/dev/null | sed -n 's/^\\([a-z0-9][a-z0-9_-]*\\)${ext}$/"\\1"/p' | paste -sd, | tr -d '\\n'; printf ']}\\n'`,
    plan(s) {
      const gone = (s.names ?? []).filter((n) => !o.keep.includes(n));
      if (!gone.length) return null;
      return { action: '-', summary: o.summary(gone), script: gone.map(o.retire).join('\n') };
    },
    notify: o.notify ?? [],
    tags: [],
  };
}
