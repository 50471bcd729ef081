import { checkProbedPath } from './facts.ts';
import { q, octal } from './sh.ts';
import { shared } from './shared.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface DirectoryOptions extends ResourceCommon {
  path: string;
  state?: 'present' | 'absent';
  mode?: number;
  /** A user name, or a numeric uid (e.g. a container's user that has no name on the host). */
  owner?: string;
  /** A group name, or a numeric gid. */
  group?: string;
}

export interface DirectoryState {
  kind: 'none' | 'dir' | 'other';
  mode?: string;
  owner?: string;
  group?: string;
  uid?: string;
  gid?: string;
  ownerMissing?: boolean;
  groupMissing?: boolean;
}

const isId = (s: string) => /^\d+$/.test(s);

export function planDirectory(o: DirectoryOptions, s: DirectoryState): PlanResult {
  const p = q(o.path);
  if (o.state === 'absent') {
    return s.kind === 'none' ? null : { action: '-', summary: 'remove recursively', script: `rm -rf ${p}` };
  }
  if (s.ownerMissing) return { unresolved: `user ${o.owner} does not exist yet` };
  if (s.groupMissing) return { unresolved: `group ${o.group} does not exist yet` };
  if (s.kind === 'other') return { unresolved: `${o.path} exists and is not a directory` };
  const mode = o.mode ?? 0o755;
  const owner = o.owner ?? 'root';
  const group = o.group ?? 'root';
  const fix = `chmod ${octal(mode)} ${p}\nchown ${q(owner)}:${q(group)} ${p}`;
  if (s.kind === 'none') {
    return {
      action: '+',
      summary: shared(`create (${octal(mode)} ${owner}:${group})`),
      script: `mkdir -p ${p}\n${fix}`,
      write: { path: o.path, mode, owner, group, directory: true },
    };
  }
  const reasons: string[] = [];
  const have = parseInt(s.mode ?? '0', 8);
  if (have !== mode) reasons.push(`mode ${octal(have)} → ${octal(mode)}`);
  // A numeric owner or group is compared with the numeric id (the name may not exist on the host).
  const ownerOk = isId(owner) ? s.uid === owner : s.owner === owner;
  const groupOk = isId(group) ? s.gid === group : s.group === group;
  if (!ownerOk || !groupOk) {
    const shown = (name?: string, id?: string) => (name && name !== 'UNKNOWN' ? name : id);
    reasons.push(`owner ${shown(s.owner, s.uid)}:${shown(s.group, s.gid)} → ${owner}:${group}`);
  }
  return reasons.length ? { action: '~', summary: reasons.join(', '), script: fix } : null;
}

export function directory(o: DirectoryOptions): Resource<DirectoryState> {
  checkProbedPath(o.path);
  const probe: FactProbe<DirectoryState> = {
    facts: { paths: [{ path: o.path }], owners: o.owner ? [o.owner] : [], groups: o.group ? [o.group] : [] },
    read(f) {
      const fact = f.path(o.path);
      const s: DirectoryState = !fact ? { kind: 'none' }
        : fact.kind === 'dir' ? { kind: 'dir', mode: fact.mode, owner: fact.owner, group: fact.group, uid: fact.uid, gid: fact.gid }
        : { kind: 'other' };
      if (o.owner && !f.user(o.owner)) s.ownerMissing = true;
      if (o.group && !f.group(o.group)) s.groupMissing = true;
      return s;
    },
  };
  return { type: 'directory', id: o.path, probe, plan: (s) => planDirectory(o, s), ...common(o) };
}
