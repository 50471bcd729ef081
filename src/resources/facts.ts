// Facts many resources need, read for all of them at once: one `stat` over every path, one
// `sha256sum` over every regular file, one `getent` for users, one for groups, one `dpkg-query`.
// A probe snippet per resource cost several processes each (stat, sha256sum, cut, getent...);
// on a host with 60 resources that was most of a no-op run.
import { q } from './sh.ts';

/** What a resource wants to know. `sha`: the content it wants; a file whose content differs is sent back. */
export interface FactQuery {
  paths?: { path: string; sha?: string }[];
  users?: string[];
  groups?: string[];
  packages?: string[];
}

export interface PathFact {
  kind: 'file' | 'dir' | 'link' | 'other';
  mode: string;
  owner: string;
  group: string;
  size: number;
  /** Regular files only. */
  sha?: string;
  /** Base64 content of a regular file whose sha is not the wanted one, up to CONTENT_LIMIT bytes (for diffs). */
  content?: string;
}

export interface Facts {
  path(p: string): PathFact | undefined;
  user(name: string): boolean;
  group(name: string): boolean;
  /** dpkg's status abbreviation and version; undefined when dpkg does not know the package. */
  pkg(name: string): { status: string; version: string } | undefined;
}

const CONTENT_LIMIT = 262144;

const uniq = (xs: string[]) => [...new Set(xs)];

/** The shell that prints the facts for all queries, as sections `@@mxp facts <name>`. */
export function factsScript(queries: FactQuery[]): string {
  const wanted = new Map<string, string | undefined>();
  for (const qy of queries) for (const p of qy.paths ?? []) if (!wanted.has(p.path) || p.sha) wanted.set(p.path, p.sha);
  const paths = [...wanted.keys()].map(q).join(' ');
  const users = uniq(queries.flatMap((x) => x.users ?? []));
  const groups = uniq(queries.flatMap((x) => x.groups ?? []));
  const packages = uniq(queries.flatMap((x) => x.packages ?? []));
  const out: string[] = [];
  if (wanted.size) {
    const cases = [...wanted].filter(([, sha]) => sha).map(([p, sha]) => `  ${q(p)}) w=${sha};;`);
    out.push(
      'echo "@@mxp facts paths"',
      `stat -c 'S|%F|%a|%U|%G|%s|%n' -- ${paths} 2>/dev/null`,
      // sha256sum only regular files: a FIFO or device would block it.
      `set --; for p in ${paths}; do [ -f "$p" ] && [ ! -L "$p" ] && set -- "$@" "$p"; done`,
      'if [ $# -gt 0 ]; then sha256sum -- "$@" 2>/dev/null | while read -r h p; do',
      '  printf \'H|%s|%s\\n\' "$h" "$p"',
      ...(cases.length ? ['  case $p in', ...cases, '  *) w=;; esac'] : ['  w=']),
      `  [ -z "$w" ] || [ "$h" = "$w" ] || [ "$(wc -c < "$p")" -gt ${CONTENT_LIMIT} ] || { printf 'C|%s|' "$p"; base64 -w0 < "$p"; echo; }`,
      'done; fi',
    );
  }
  if (users.length) out.push('echo "@@mxp facts users"', `getent passwd ${users.map(q).join(' ')} 2>/dev/null`);
  if (groups.length) out.push('echo "@@mxp facts groups"', `getent group ${groups.map(q).join(' ')} 2>/dev/null`);
  if (packages.length) {
    out.push('echo "@@mxp facts packages"', `dpkg-query -W -f='\${binary:Package}|\${db:Status-Abbrev}|\${Version}\\n' ${packages.map(q).join(' ')} 2>/dev/null`);
  }
  return out.join('\n');
}

const KINDS: Record<string, PathFact['kind']> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'dir',
  'symbolic link': 'link',
};

/** Facts from the lines of the sections (name → lines), as factsScript printed them. */
export function parseFacts(sections: Map<string, string[]>): Facts {
  const paths = new Map<string, PathFact>();
  for (const line of sections.get('paths') ?? []) {
    const tag = line.slice(0, 2);
    if (tag === 'S|') {
      const f = line.split('|');
      if (f.length < 7) continue;
      const path = f.slice(6).join('|');
      paths.set(path, { kind: KINDS[f[1]!] ?? 'other', mode: f[2]!, owner: f[3]!, group: f[4]!, size: Number(f[5]) });
    } else if (tag === 'H|') {
      const fact = paths.get(line.slice(67));
      if (fact) fact.sha = line.slice(2, 66);
    } else if (tag === 'C|') {
      const at = line.lastIndexOf('|');
      const fact = paths.get(line.slice(2, at));
      if (fact) fact.content = line.slice(at + 1);
    }
  }
  const names = (section: string) => new Set((sections.get(section) ?? []).map((l) => l.split(':')[0]));
  const users = names('users');
  const groups = names('groups');
  const pkgs = new Map<string, { status: string; version: string }>();
  for (const line of sections.get('packages') ?? []) {
    const [name = '', status = '', ...version] = line.split('|');
    const v = { status, version: version.join('|') };
    pkgs.set(name, v);
    // An arch-qualified name (libc6:amd64) is also found by its plain name, as dpkg-query -W does.
    const plain = name.split(':')[0]!;
    if (!pkgs.has(plain)) pkgs.set(plain, v);
  }
  return {
    path: (p) => paths.get(p),
    user: (n) => users.has(n),
    group: (n) => groups.has(n),
    pkg: (n) => pkgs.get(n),
  };
}
