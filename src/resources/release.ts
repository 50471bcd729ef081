import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { sha256 } from './file.ts';
import { base64Heredoc, q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

/**
 * A release tarball unpacked into `<dir>/versions/<version>/`, served through the link
 * `<dir>/current`. The checksum is verified before anything is unpacked, the tree is unpacked aside
 * and renamed into place, and the link is replaced by a rename: a reader sees the old version or the
 * new one, never a half state. `<dir>/versions/<version>.sha256` records which tarball a version
 * came from (outside the served tree); its mtime orders versions for pruning.
 */
export interface ReleaseOptions extends ResourceCommon {
  dir: string;
  /** Also the folder name: letters, digits and . _ + - */
  version: string;
  /** An http(s) URL the host fetches with curl, or a path on the control machine (uploaded). */
  source: string;
  sha256: string;
  /** Versions kept, the current one included; older ones are deleted. */
  keep?: number;
  /** The variables the source and checksum came from, named in input errors. */
  keys?: { source?: string; sha256?: string };
}

export interface ReleaseState {
  current: { kind: 'none' | 'link' | 'other'; target?: string };
  /** Complete versions (folder and record), most recently installed first. */
  versions: { name: string; sha: string }[];
}

/** Where the bytes come from: fetched by the host, or carried in the apply script. */
export type ReleaseSource = { url: string } | { path: string; size: number; heredoc: () => string };

export const VERSION_RE = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;
export const isUrl = (s: string) => /^https?:\/\//i.test(s);

const SHA_RE = /^[0-9a-f]{64}$/;
const shortSha = (s: string) => `${s.slice(0, 12)}…`;

function megabytes(n: number): string {
  return n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} kB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Fetch or upload to "$t/release.tar", and refuse it unless its sha256 is the expected one. */
function fetchScript(src: ReleaseSource, sha: string): string {
  const get = 'url' in src
    ? [
        `command -v curl >/dev/null || { printf 'curl is not installed: it is needed to fetch %s\\n' ${q(src.url)}; exit 1; }`,
        `curl -fsSL --retry 2 -o "$t/release.tar" ${q(src.url)}`,
      ].join('\n')
    : `base64 -d > "$t/release.tar" ${src.heredoc()}`;
  const where = 'url' in src ? src.url : src.path;
  return [
    get,
    'got=$(sha256sum < "$t/release.tar" | cut -c1-64)',
    `if [ "$got" != ${sha} ]; then`,
    `  printf 'sha256 mismatch for %s: got %s, expected %s; nothing was unpacked or switched\\n' ${q(where)} "$got" ${sha}`,
    '  exit 1',
    'fi',
  ].join('\n');
}

/**
 * Unpack into a temp folder next to versions/ (same filesystem: the rename is atomic), dropping a
 * single top folder (element-v1.11.90/), readable by the web server, writable by root only. A
 * folder of the same name (another tarball under one version name, or an interrupted run) is moved
 * aside first; if it is the one being served, `current` points at a hard-linked copy meanwhile.
 */
function installScript(version: string, sha: string): string {
  const v = q(`versions/${version}`);
  return [
    'mkdir "$t/tree"',
    'tar -xf "$t/release.tar" -C "$t/tree" --no-same-owner',
    'rm -f "$t/release.tar"',
    'root="$t/tree"',
    'if [ "$(ls -A "$t/tree" | wc -l)" -eq 1 ]; then',
    '  top=$(ls -A "$t/tree")',
    '  if [ -d "$t/tree/$top" ] && [ ! -L "$t/tree/$top" ]; then root="$t/tree/$top"; fi',
    'fi',
    'chmod -R u=rwX,go=rX "$root"',
    `if [ -e ${v} ] || [ -L ${v} ]; then`,
    `  if [ "$(readlink current 2>/dev/null)" = ${v} ]; then`,
    `    cp -al ${v} "$t/serving"`,
    '    ln -sfn "$t/serving" .mxp-current && mv -Tf .mxp-current current',
    '  fi',
    `  mv ${v} "$t/old"`,
    'fi',
    `mv "$root" ${v}`,
    `printf '%s\\n' ${sha} > ${q(`versions/.${version}.sha256.tmp`)}`,
    `mv -f ${q(`versions/.${version}.sha256.tmp`)} ${q(`versions/${version}.sha256`)}`,
  ].join('\n');
}

/** Which versions go: all but the newest `keep`, counting the wanted one as the newest. */
export function prunable(versions: ReleaseState['versions'], want: string, keep: number): string[] {
  const order = [want, ...versions.map((v) => v.name).filter((n) => n !== want)];
  return order.slice(Math.max(1, keep));
}

export function planRelease(o: ReleaseOptions, s: ReleaseState, src: ReleaseSource): PlanResult {
  if (s.current.kind === 'other') return { unresolved: `${o.dir}/current exists and is not a symlink; refusing to replace it` };
  const target = `versions/${o.version}`;
  const installed = s.versions.some((v) => v.name === o.version && v.sha === o.sha256);
  const linked = s.current.kind === 'link' && s.current.target === target;
  const prune = prunable(s.versions, o.version, o.keep ?? 2);
  if (installed && linked && !prune.length) return null;

  const steps = [`mkdir -p ${q(o.dir)}/versions`, `cd ${q(o.dir)}`];
  const what: string[] = [];
  if (!installed) {
    const other = s.versions.find((v) => v.name === o.version);
    const from = 'url' in src ? `from ${src.url}` : `upload ${basename(src.path)} (${megabytes(src.size)})`;
    what.push(`${other ? 'reinstall' : 'install'} ${o.version} ${from}, sha256 ${shortSha(o.sha256)}${other ? ` (was ${shortSha(other.sha)})` : ''}`);
    steps.push(
      // Leftovers of an interrupted run go first, except a copy still being served.
      'for x in versions/.mxp-*; do [ ! -e "$x" ] || [ "$(readlink current)" = "$x/serving" ] || rm -rf "$x"; done',
      't=$(mktemp -d versions/.mxp-XXXXXX) && chmod 755 "$t"',
      // On failure too: nothing half-done stays behind (unless current points into it meanwhile).
      `trap '[ "$(readlink current)" = "$t/serving" ] || rm -rf "$t"' EXIT`,
      fetchScript(src, o.sha256),
      installScript(o.version, o.sha256),
    );
  }
  if (!linked) what.push(s.current.kind === 'link' ? `switch current ${s.current.target} → ${target}` : `link current → ${target}`);
  if (!linked || !installed) {
    // Also after a reinstall of the served version: current points at the interim copy until here.
    steps.push(`ln -sfn ${q(target)} .mxp-current && mv -Tf .mxp-current current`);
    // A switch to a kept version marks it as the most recently used (pruning keeps the newest).
    if (installed) steps.push(`touch ${q(`${target}.sha256`)}`);
  }
  if (prune.length) {
    what.push(`remove old ${prune.join(', ')}`);
    // The folder first: a record without its folder is ignored, a folder without one would linger.
    for (const p of prune) steps.push(`rm -rf ${q(`versions/${p}`)} && rm -f ${q(`versions/${p}.sha256`)}`);
  }
  const fresh = s.current.kind === 'none' && s.versions.length === 0;
  return { action: fresh ? '+' : '~', summary: what.join(', '), script: steps.join('\n') };
}

export function releaseProbe(dir: string): string {
  const d = q(dir);
  return [
    `cd ${d} 2>/dev/null || { echo '{"current":{"kind":"none"},"versions":[]}'; exit 0; }`,
    'if [ -L current ]; then k=link; t=$(readlink current | sed \'s/[\\\\"]/\\\\&/g\')',
    'elif [ -e current ]; then k=other; t=',
    'else k=none; t=; fi',
    'printf \'{"current":{"kind":"%s","target":"%s"},"versions":[\' "$k" "$t"',
    'sep=',
    // ls -t: most recently recorded first. Only names a version can have; only with their folder.
    'if cd versions 2>/dev/null; then for m in $(ls -t -- *.sha256 2>/dev/null); do',
    '  v=${m%.sha256}',
    '  case $v in .*|*[!A-Za-z0-9._+-]*) continue;; esac',
    '  [ -d "$v" ] && [ ! -L "$v" ] || continue',
    '  printf \'%s{"name":"%s","sha":"%s"}\' "$sep" "$v" "$(tr -dc 0-9a-f < "$m" | head -c 64)"',
    '  sep=,',
    'done; fi',
    "echo ']}'",
  ].join('\n');
}

/** What is known of a local tarball, once per run: every host of a play uses the same file. */
const locals = new Map<string, { stamp: string; sha: string; heredoc?: string }>();

function local(path: string, size: number, mtimeMs: number) {
  const stamp = `${size}:${mtimeMs}`;
  let hit = locals.get(path);
  if (hit?.stamp !== stamp) {
    hit = { stamp, sha: sha256(readFileSync(path)) };
    locals.set(path, hit);
  }
  const entry = hit;
  // Encoded only when some host needs the upload, and then once for all of them.
  return { sha: entry.sha, heredoc: () => (entry.heredoc ??= base64Heredoc(readFileSync(path))) };
}

/**
 * Input checks happen here, before any host is touched: a local tarball must exist and have the
 * expected checksum (a URL is checked by the host, before it unpacks anything).
 */
export function release(o: ReleaseOptions): Resource<ReleaseState> {
  const keyOf = (k: 'source' | 'sha256') => (o.keys?.[k] ? { key: o.keys[k] } : {});
  if (!VERSION_RE.test(o.version)) {
    throw new UserError(`version ${JSON.stringify(o.version)}: use letters, digits and . _ + - (it names a folder)`);
  }
  if (!SHA_RE.test(o.sha256)) throw new UserError('sha256: 64 lower-case hex digits expected', keyOf('sha256'));
  if (!o.dir.startsWith('/')) throw new UserError(`release folder ${o.dir}: an absolute path expected`);
  let src: ReleaseSource;
  if (isUrl(o.source)) src = { url: o.source };
  else {
    const path = resolve(o.source);
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new UserError(`tarball ${path}: no such file on this machine`, keyOf('source'));
    }
    if (!st.isFile()) throw new UserError(`tarball ${path}: not a regular file`, keyOf('source'));
    const known = local(path, st.size, st.mtimeMs);
    if (known.sha !== o.sha256) {
      throw new UserError(`tarball ${path} has sha256 ${known.sha}, not the expected ${o.sha256}`, keyOf('sha256'));
    }
    src = { path, size: st.size, heredoc: known.heredoc };
  }
  return {
    type: 'release',
    id: o.dir,
    probe: releaseProbe(o.dir),
    plan: (s) => planRelease(o, s, src),
    ...common(o),
  };
}
