import { createHash } from 'node:crypto';
import { checkProbedPath } from './facts.ts';
import { q, octal, base64Heredoc } from './sh.ts';
import { NONE, shared } from './shared.ts';
import { common, type Change, type FactProbe, type FileDiff, type FileWrite, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface FileOptions extends ResourceCommon {
  path: string;
  content?: string | Buffer;
  state?: 'present' | 'absent';
  mode?: number;
  owner?: string;
  group?: string;
  /** The whole content is secret: diffs say it changes, never what. */
  sensitive?: boolean;
  /** Extra shell run after the file changed (e.g. mark the apt lists stale). */
  onChange?: string;
  /** Shown in plans instead of "file" (template, yaml, ...). */
  kind?: string;
}

export interface FileState {
  kind: 'none' | 'file' | 'dir' | 'link' | 'other';
  mode?: string;
  owner?: string;
  group?: string;
  sha?: string;
  content?: string; // base64, only when it differs from the desired content and is small
  ownerMissing?: boolean;
  groupMissing?: boolean;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

const EMPTY_SHA = sha256('');

const ABSENT: FileState = Object.freeze({ kind: 'none' });

/** The file's state from the facts: what planFile compares. */
export function fileProbe(path: string, desiredSha: string, owner?: string, group?: string): FactProbe<FileState> {
  checkProbedPath(path);
  return {
    facts: { paths: [{ path, sha: desiredSha }], owners: owner ? [owner] : NONE, groups: group ? [group] : NONE },
    read(f) {
      const fact = f.path(path);
      // One state for every file not there yet (a first run's thousands): never changed, so shared.
      if (!fact && (!owner || f.user(owner)) && (!group || f.group(group))) return ABSENT;
      const s: FileState = fact ? { kind: fact.kind } : { kind: 'none' };
      if (fact?.kind === 'file') Object.assign(s, { mode: fact.mode, owner: fact.owner, group: fact.group, sha: fact.sha, content: fact.content ?? '' });
      if (owner && !f.user(owner)) s.ownerMissing = true;
      if (group && !f.group(group)) s.groupMissing = true;
      return s;
    },
  };
}

function decode(b64: string | undefined): string | null {
  if (b64 === undefined || b64 === '') return null;
  const buf = Buffer.from(b64, 'base64');
  return buf.includes(0) ? null : buf.toString('utf8');
}

const LONE_SURROGATE = /\p{Cs}/u;

/** A PEM private key (RSA, EC, OpenSSH, PKCS#8, encrypted or not): secret by its nature. */
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** Content shown only as changing: the task says so, or one side holds a private key. */
function hiddenDiff(o: FileOptions, ...texts: (string | Buffer | null | undefined)[]): { hidden?: true } {
  return o.sensitive || texts.some((t) => t != null && PRIVATE_KEY.test(t.toString())) ? { hidden: true } : {};
}

/** `wantSha`: the content's sha256, when the caller has it already (file() does, for its probe). */
export function planFile(o: FileOptions, s: FileState, wantSha = sha256(o.content ?? '')): PlanResult {
  const path = o.path;
  if ((o.state ?? 'present') === 'absent') {
    if (s.kind === 'none') return null;
    if (s.kind === 'dir') return { unresolved: `${path} is a directory, not a file` };
    return {
      action: '-',
      summary: 'remove',
      script: `mxp_backup ${q(path)}\nrm -f ${q(path)}${o.onChange ? `\n${o.onChange}` : ''}`,
      diff: { path, before: decode(s.content), after: null, ...hiddenDiff(o, decode(s.content)) },
    };
  }
  if (s.ownerMissing) return { unresolved: `user ${o.owner} does not exist yet` };
  if (s.groupMissing) return { unresolved: `group ${o.group} does not exist yet` };
  if (s.kind === 'dir' || s.kind === 'other') return { unresolved: `${path} exists and is not a regular file` };

  const content = o.content ?? '';
  const mode = o.mode ?? 0o644;
  const owner = o.owner ?? 'root';
  const group = o.group ?? 'root';
  const tail = o.onChange ? `\n${o.onChange}` : '';
  const put = (action: '+' | '~', summary: string, before: string | null) =>
    new PutFile(action, summary, path, mode, owner, group, content, tail, before, !!hiddenDiff(o, content, decode(s.content)).hidden);

  if (s.kind === 'none' || s.kind === 'link') {
    return put('+', s.kind === 'link' ? 'replace symlink with file' : shared(`create (${octal(mode)} ${owner}:${group})`), null);
  }
  const reasons: string[] = [];
  const contentChanged = s.sha !== wantSha;
  if (contentChanged) reasons.push('content');
  if (parseInt(s.mode ?? '0', 8) !== mode) reasons.push(`mode ${octal(parseInt(s.mode ?? '0', 8))} → ${octal(mode)}`);
  if (s.owner !== owner || s.group !== group) reasons.push(`owner ${s.owner}:${s.group} → ${owner}:${group}`);
  if (reasons.length === 0) return null;
  if (!contentChanged) {
    return {
      action: '~',
      summary: reasons.join(', '),
      // backed up too: a validation set that fails restores the old mode and owner as well
      script: `mxp_backup ${q(path)}\nchmod ${octal(mode)} ${q(path)}\nchown ${q(owner)}:${q(group)} ${q(path)}${tail}`,
    };
  }
  // The probe sends no content for an empty file: it is '' then, not "does not exist".
  return put('~', reasons.join(', '), s.sha === EMPTY_SHA ? '' : decode(s.content));
}

/**
 * A file written whole: the change, and the write itself for the apply's batch writer. A class
 * with its parts as fields, the script and the diff made when read: a plan holds one per file (tens
 * of thousands over many hosts), and object literals with getters sit in V8's slow dictionary
 * form, three times the size.
 */
class PutFile implements Change {
  constructor(
    readonly action: '+' | '~',
    readonly summary: string,
    readonly path: string,
    readonly mode: number,
    readonly owner: string,
    readonly group: string,
    readonly content: string | Buffer,
    /** Shell run after the write (onChange): then it is no plain write a batch can make. */
    private readonly tail: string,
    /** The text there now: null when there is none (or none to show). */
    private readonly before: string | null,
    /** Secret as a whole: the diff shows that it changes, never what. */
    private readonly hidden: boolean,
  ) {}

  /** Only for a step run as shell: a first run's batch writer never makes it. */
  get script(): string {
    return `mxp_put ${q(this.path)} ${octal(this.mode)} ${q(this.owner)} ${q(this.group)} ${base64Heredoc(this.content)}${this.tail}`;
  }

  get write(): FileWrite | undefined {
    return this.tail ? undefined : this;
  }

  /**
   * The text shown after: the content itself when it is one (no copy of each file's text); a
   * string with a lone surrogate, as the UTF-8 written (U+FFFD for it).
   */
  get diff(): FileDiff {
    const c = this.content;
    const after = typeof c === 'string' && !LONE_SURROGATE.test(c) ? c : Buffer.from(c).toString('utf8');
    return { path: this.path, before: this.before, after, ...(this.hidden ? { hidden: true } : {}) };
  }
}

export function file(o: FileOptions): Resource<FileState> {
  const wantSha = sha256(o.content ?? '');
  return {
    type: o.kind ?? 'file',
    id: o.path,
    probe: fileProbe(o.path, wantSha, o.owner, o.group),
    plan: (s) => planFile(o, s, wantSha),
    writes: [o.path],
    ...common(o),
  };
}
