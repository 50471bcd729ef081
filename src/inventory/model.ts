import { UserError } from '../errors.ts';

/** Where something was written: a file as shown to the user, and its line. */
export interface Place {
  file: string;
  line?: number;
}

export interface VarEntry extends Place {
  value: unknown;
}

export interface GroupNode {
  name: string;
  /** The group's own variables from inventory files (not group_vars/), in the order set. */
  vars: Map<string, VarEntry>;
  children: string[];
  parents: string[];
  /** Hosts listed directly in the group, in order. */
  hosts: string[];
  /** ansible_group_priority (default 1): orders groups of the same depth when their vars merge. */
  priority: number;
  /** Where the group is declared, for errors and group_vars typos. */
  at?: Place;
}

export interface HostNode {
  name: string;
  /** Inline variables from inventory files (not host_vars/), every source merged in order. */
  vars: Map<string, VarEntry>;
  at: Place;
}

/**
 * The inventory as Ansible's InventoryData builds it while its sources are read: groups `all` and
 * `ungrouped` from the start, groups and hosts added as sources name them, variables set (the
 * later source wins), then `reconcile`: every group without a parent becomes a child of `all`,
 * and a host in no group but `all` goes to `ungrouped`.
 */
export class InventoryModel {
  readonly groups = new Map<string, GroupNode>();
  readonly hosts = new Map<string, HostNode>();

  constructor() {
    this.group('all');
    this.group('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  group(name: string, at?: Place): GroupNode {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = { name, vars: new Map(), children: [], parents: [], hosts: [], priority: 1, ...(at ? { at } : {}) }));
    else if (at && !g.at) g.at = at;
    return g;
  }

  /** `child` under `parent`; a loop is an error naming where the edge was written. */
  addChild(parent: string, child: string, at?: Place): void {
    const p = this.group(parent);
    const c = this.group(child);
    if (p.children.includes(child)) return;
    if (parent === child || this.ancestors(parent).has(child)) {
      throw new UserError(`group ${child} cannot be a child of ${parent}: it would be its own ancestor (a loop)`, { ...at });
    }
    p.children.push(child);
    c.parents.push(parent);
  }

  ancestors(name: string, out = new Set<string>()): Set<string> {
    for (const p of this.groups.get(name)?.parents ?? []) {
      if (out.has(p)) continue;
      out.add(p);
      this.ancestors(p, out);
    }
    return out;
  }

  /**
   * A host in a group. A port written with the name (`web1:2222`) sets ansible_port when the host
   * is first seen, as in Ansible; Ansible ignores the port of a later mention, which is refused
   * here unless it is the same.
   */
  addHost(name: string, group: string | undefined, port: number | undefined, at: Place): HostNode {
    let h = this.hosts.get(name);
    if (!h) {
      this.hosts.set(name, (h = { name, vars: new Map(), at }));
      if (port !== undefined) h.vars.set('ansible_port', { value: port, ...at });
    } else if (port !== undefined && h.vars.get('ansible_port')?.value !== port) {
      throw new UserError(
        `host ${name}: the port ${port} written here would be ignored, since the host was first listed at ${h.at.file}${h.at.line ? `:${h.at.line}` : ''} with ${h.vars.has('ansible_port') ? `port ${h.vars.get('ansible_port')!.value}` : 'no port'} (Ansible takes the port of the first mention only): set ansible_port instead`,
        { ...at, host: name },
      );
    }
    if (group) {
      const g = this.group(group);
      if (!g.hosts.includes(name)) g.hosts.push(name);
    }
    return h;
  }

  setGroupVar(group: string, key: string, value: unknown, at: Place): void {
    const g = this.group(group);
    if (key === 'ansible_group_priority') {
      const n = typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        throw new UserError(`ansible_group_priority of group ${group} must be a whole number`, { ...at, key });
      }
      g.priority = n; // as in Ansible, it orders the group and is not a variable
      return;
    }
    g.vars.set(key, { value, ...at });
  }

  setHostVar(host: string, key: string, value: unknown, at: Place): void {
    this.hosts.get(host)!.vars.set(key, { value, ...at });
  }

  reconcile(): void {
    for (const g of this.groups.values()) if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    const ungrouped = this.groups.get('ungrouped')!;
    const direct = new Map<string, Set<string>>();
    for (const g of this.groups.values()) for (const h of g.hosts) (direct.get(h) ?? direct.set(h, new Set()).get(h)!).add(g.name);
    for (const h of this.hosts.keys()) {
      const mine = direct.get(h) ?? new Set<string>();
      const others = [...mine].filter((g) => g !== 'all' && g !== 'ungrouped');
      if (others.length && mine.has('ungrouped')) ungrouped.hosts.splice(ungrouped.hosts.indexOf(h), 1);
      else if (!others.length && !mine.has('ungrouped')) ungrouped.hosts.push(h);
    }
  }

  /** Longest path from `all` (Ansible's group depth): parents' variables come before children's. */
  depths(): Map<string, number> {
    const depth = new Map<string, number>();
    const of = (name: string): number => {
      const known = depth.get(name);
      if (known !== undefined) return known;
      const ps = this.groups.get(name)!.parents;
      const d = ps.length ? Math.max(...ps.map((p) => of(p) + 1)) : 0;
      depth.set(name, d);
      return d;
    };
    for (const name of this.groups.keys()) of(name);
    return depth;
  }

  /** Every group a host is in (directly, or through a child group), `all` included. */
  groupsOf(host: string): Set<string> {
    const out = new Set<string>();
    for (const g of this.groups.values()) {
      if (!g.hosts.includes(host)) continue;
      out.add(g.name);
      this.ancestors(g.name, out);
    }
    out.add('all');
    return out;
  }
}

/** Ansible's sort_groups: by depth, then priority, then name (code point order, as Python sorts). */
export function sortGroups(names: Iterable<string>, model: InventoryModel, depth: Map<string, number>): string[] {
  return [...names].sort((a, b) => {
    const ga = model.groups.get(a)!;
    const gb = model.groups.get(b)!;
    return depth.get(a)! - depth.get(b)! || ga.priority - gb.priority || (a < b ? -1 : a > b ? 1 : 0);
  });
}
