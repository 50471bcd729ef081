import { UserError } from '../errors.ts';
import type { Play, RoleEntry } from '../playbook/playbook.ts';
import type { HostServedPort, ServedPort, TaskContext } from '../roles/define.ts';
import type { LoadedRole } from '../roles/loader.ts';
import type { mergeLayers } from '../roles/vars.ts';

type Merged = ReturnType<typeof mergeLayers>;
/** A role's checked vars on the host and its context; undefined when they do not check (buildPlay reports why). */
type RoleInput = (play: Play, entry: RoleEntry, merged: Merged) => { vars: unknown; ctx: Omit<TaskContext, 'servedPorts'> } | undefined;

/**
 * What the roles of one host serve, over every play given (all plays that include the host: tags
 * select nothing here, since a tag must never close a port). Sorted, each port once.
 */
export function servedPortsOf(plays: Play[], roles: Map<string, LoadedRole>, merged: (play: Play) => Merged, input: RoleInput): HostServedPort[] {
  const out: HostServedPort[] = [];
  for (const play of plays) {
    const m = merged(play);
    for (const entry of play.roles) {
      const def = roles.get(entry.role)?.def;
      if (!def?.ports) continue;
      const got = input(play, entry, m);
      if (!got) continue;
      let ports: ServedPort[];
      try {
        ports = def.ports(got.vars as never, got.ctx);
      } catch (e) {
        if (!(e instanceof UserError)) throw new UserError(`role failed to declare its ports: ${(e as Error).message}`, { host: got.ctx.host, role: entry.role });
        throw new UserError(e.message, { host: got.ctx.host, role: entry.role, ...e.context });
      }
      for (const p of ports) out.push({ ...checkedPort(p, entry.role), role: entry.role });
    }
  }
  return uniquePorts(out);
}

/** A role's own mistake (a port out of range) stops the build with its name, never opens a wrong range. */
export function checkedPort(p: ServedPort, role: string): ServedPort {
  const [lo, hi] = typeof p.port === 'number' ? [p.port, p.port] : p.port;
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!ok(lo) || !ok(hi) || lo > hi || (p.protocol !== 'tcp' && p.protocol !== 'udp')) {
    throw new UserError(`role declares an impossible served port ${p.protocol}/${String(p.port)} (${p.why})`, { role });
  }
  return lo === hi ? { ...p, port: lo } : { ...p, port: [lo, hi] };
}

const key = (p: ServedPort) => `${p.protocol}/${typeof p.port === 'number' ? p.port : p.port.join('-')}`;
const first = (p: ServedPort) => (typeof p.port === 'number' ? p.port : p.port[0]);

/** Each protocol/port once (the first role's reason kept, later roles named beside it), tcp before udp, by port. */
export function uniquePorts(ports: HostServedPort[]): HostServedPort[] {
  const seen = new Map<string, HostServedPort>();
  for (const p of ports) {
    const had = seen.get(key(p));
    if (!had) seen.set(key(p), p);
    else if (!had.role.split(', ').includes(p.role)) seen.set(key(p), { ...had, role: `${had.role}, ${p.role}` });
  }
  return [...seen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || first(a) - first(b) || key(a).localeCompare(key(b)));
}
