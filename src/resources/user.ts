import { q } from './sh.ts';
import { common, type FactProbe, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface GroupOptions extends ResourceCommon {
  name: string;
  system?: boolean;
  state?: 'present' | 'absent';
}

export interface UserOptions extends ResourceCommon {
  name: string;
  system?: boolean;
  home?: string;
  shell?: string;
  /** Primary group (must exist). */
  group?: string;
  /** Supplementary groups the user must be in (others are left alone). */
  groups?: string[];
  state?: 'present' | 'absent';
}

export interface GroupState {
  exists: boolean;
}

export interface UserState {
  exists: boolean;
  home?: string;
  shell?: string;
  group?: string;
  groups?: string;
}

export function planGroup(o: GroupOptions, s: GroupState): PlanResult {
  if (o.state === 'absent') return s.exists ? { action: '-', summary: 'remove', script: `groupdel ${q(o.name)}` } : null;
  if (s.exists) return null;
  return { action: '+', summary: o.system ? 'create (system)' : 'create', script: `groupadd ${o.system ? '--system ' : ''}${q(o.name)}` };
}

export function planUser(o: UserOptions, s: UserState): PlanResult {
  const n = q(o.name);
  if (o.state === 'absent') return s.exists ? { action: '-', summary: 'remove', script: `userdel ${n}` } : null;
  const opts: string[] = [];
  if (o.home) opts.push(`--home-dir ${q(o.home)}`);
  if (o.shell) opts.push(`--shell ${q(o.shell)}`);
  if (o.group) opts.push(`--gid ${q(o.group)}`);
  if (o.groups?.length) opts.push(`--groups ${q(o.groups.join(','))}`);
  if (!s.exists) {
    const create = [...(o.system ? ['--system'] : []), ...(o.home ? ['--create-home'] : []), ...opts];
    return { action: '+', summary: 'create', script: `useradd ${[...create, n].join(' ')}` };
  }
  const why: string[] = [];
  const mod: string[] = [];
  if (o.home && s.home !== o.home) (why.push(`home ${s.home} → ${o.home}`), mod.push(`--home ${q(o.home)}`));
  if (o.shell && s.shell !== o.shell) (why.push(`shell ${s.shell} → ${o.shell}`), mod.push(`--shell ${q(o.shell)}`));
  if (o.group && s.group !== o.group) (why.push(`group ${s.group} → ${o.group}`), mod.push(`--gid ${q(o.group)}`));
  const have = new Set((s.groups ?? '').split(' ').filter(Boolean));
  const add = (o.groups ?? []).filter((g) => !have.has(g));
  if (add.length) (why.push(`add to ${add.join(',')}`), mod.push(`--append --groups ${q(add.join(','))}`));
  return why.length ? { action: '~', summary: why.join(', '), script: `usermod ${mod.join(' ')} ${n}` } : null;
}

export function group(o: GroupOptions): Resource<GroupState> {
  const probe: FactProbe<GroupState> = { facts: { groups: [o.name] }, read: (f) => ({ exists: f.group(o.name) }) };
  return { type: 'group', id: o.name, probe, plan: (s) => planGroup(o, s), ...common(o) };
}

export function user(o: UserOptions): Resource<UserState> {
  // Groups cost a process per user on the host: asked only of users whose groups are managed.
  const groupsMatter = !!o.group || !!o.groups?.length;
  const probe: FactProbe<UserState> = {
    facts: groupsMatter ? { users: [o.name], memberships: [o.name] } : { users: [o.name] },
    read(f) {
      const a = f.account(o.name);
      if (!a) return { exists: false };
      return { exists: true, home: a.home, shell: a.shell, ...(a.groups ? { group: a.groups[0] ?? '', groups: a.groups.join(' ') } : {}) };
    },
  };
  return { type: 'user', id: o.name, probe, plan: (s) => planUser(o, s), ...common(o) };
}
