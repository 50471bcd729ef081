import { q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface LinkOptions extends ResourceCommon {
  path: string;
  target: string;
  state?: 'present' | 'absent';
}

export interface LinkState {
  kind: 'none' | 'link' | 'other';
  target?: string;
}

export function planLink(o: LinkOptions, s: LinkState): PlanResult {
  const p = q(o.path);
  if (o.state === 'absent') {
    if (s.kind === 'none') return null;
    if (s.kind === 'other') return { unresolved: `${o.path} is not a symlink; refusing to remove it` };
    return { action: '-', summary: 'remove symlink', script: `rm -f ${p}` };
  }
  if (s.kind === 'other') return { unresolved: `${o.path} exists and is not a symlink` };
  if (s.kind === 'link' && s.target === o.target) return null;
  // ln + mv -T swaps the link atomically: readers never see it missing.
  const script = `ln -sfn ${q(o.target)} ${p}.mxp-tmp\nmv -Tf ${p}.mxp-tmp ${p}`;
  if (s.kind === 'none') return { action: '+', summary: `→ ${o.target}`, script };
  return { action: '~', summary: `${s.target} → ${o.target}`, script };
}

export function link(o: LinkOptions): Resource<LinkState> {
  const p = q(o.path);
  const probe = [
    `if [ -L ${p} ]; then printf '{"kind":"link","target":"%s"}\\n' "$(readlink ${p} | sed 's/[\\\\"]/\\\\&/g')"`,
    `elif [ -e ${p} ]; then echo '{"kind":"other"}'`,
    `else echo '{"kind":"none"}'; fi`,
  ].join('\n');
  return { type: 'link', id: o.path, probe, plan: (s) => planLink(o, s), ...common(o) };
}
