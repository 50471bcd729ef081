import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { isPlainObject, loadYaml, type YamlFile } from '../config/yaml-file.ts';

/** Where a variable's value came from: shown in errors and by `mxplay inventory`. */
export interface VarOrigin {
  file: string;
  line?: number;
  layer: string;
}

export interface Host {
  name: string;
  groups: string[]; // every group the host is in, 'all' first
  vars: Record<string, unknown>;
  origins: Record<string, VarOrigin>;
}

export interface Inventory {
  source: string;
  hosts: Map<string, Host>;
  groups: Map<string, Set<string>>; // group -> host names (transitively)
  /** Every value read with `!env`, `!file` or `!command` in the inventory and its vars files: to register as secrets. */
  secretValues: string[];
}

interface GroupNode {
  name: string;
  depth: number;
  parents: Set<string>;
  vars: { values: Record<string, unknown>; file: YamlFile; path: (string | number)[] } | null;
  hosts: Set<string>;
}

/** `-i prod` → inventory/prod.yml, inventory/prod/ (hosts.yml), else the path as given. */
export function resolveInventoryPath(arg: string, cwd = process.cwd()): string {
  const candidates = [
    join(cwd, 'inventory', `${arg}.yml`),
    join(cwd, 'inventory', `${arg}.yaml`),
    join(cwd, 'inventory', arg),
    resolve(cwd, arg),
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new UserError(`inventory not found: tried ${candidates.map((c) => c.replace(cwd + '/', '')).join(', ')}`);
}

function inventoryFiles(path: string): { main: string; dir: string } {
  if (statSync(path).isDirectory()) {
    for (const n of ['hosts.yml', 'hosts.yaml', 'inventory.yml']) {
      if (existsSync(join(path, n))) return { main: join(path, n), dir: path };
    }
    throw new UserError(`no hosts.yml in inventory folder`, { file: path });
  }
  return { main: path, dir: join(path, '..') };
}

/** group_vars/NAME.yml or group_vars/NAME/*.yml (same for host_vars), in name order. */
function varFiles(dir: string, kind: 'group_vars' | 'host_vars', name: string): YamlFile[] {
  const base = join(dir, kind);
  const out: string[] = [];
  for (const ext of ['.yml', '.yaml', '']) {
    const p = join(base, name + ext);
    if (!existsSync(p)) continue;
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.ya?ml$/.test(f)) out.push(join(p, f));
    } else if (ext) out.push(p);
  }
  return out.map((f) => {
    const y = loadYaml(f);
    if (y.data != null && !isPlainObject(y.data)) throw new UserError('expected a mapping of variables', { file: y.file });
    return y;
  });
}

export function loadInventory(arg: string, cwd = process.cwd()): Inventory {
  const path = resolveInventoryPath(arg, cwd);
  const { main, dir } = inventoryFiles(path);
  const y = loadYaml(main);
  // Each vars file is read (and its !command run) once, however many hosts it applies to.
  const loaded = new Map<string, YamlFile[]>();
  const varsOf = (kind: 'group_vars' | 'host_vars', name: string) => {
    const k = `${kind}/${name}`;
    if (!loaded.has(k)) loaded.set(k, varFiles(dir, kind, name));
    return loaded.get(k)!;
  };
  if (!isPlainObject(y.data)) throw new UserError('an inventory is a mapping of groups (all: …)', { file: y.file });

  const groups = new Map<string, GroupNode>();
  const hostEntries = new Map<string, { vars: Record<string, unknown>; path: (string | number)[] }[]>();
  const group = (name: string, depth: number): GroupNode => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, depth, parents: new Set(), vars: null, hosts: new Set() }));
    g.depth = Math.max(g.depth, depth);
    return g;
  };

  const readGroup = (name: string, node: unknown, path: string[], depth: number, parent?: string) => {
    const g = group(name, depth);
    if (parent) g.parents.add(parent);
    if (node == null) return;
    if (!isPlainObject(node)) throw new UserError(`group ${name} must be a mapping`, { file: y.file, line: y.lineOf(path) });
    for (const key of Object.keys(node)) {
      if (!['hosts', 'vars', 'children'].includes(key)) {
        throw new UserError(`unknown key in group ${name} (expected hosts, vars, children)`, {
          file: y.file, line: y.lineOf([...path, key]), key,
        });
      }
    }
    if (node.vars != null) {
      if (!isPlainObject(node.vars)) throw new UserError(`vars of group ${name} must be a mapping`, { file: y.file, line: y.lineOf([...path, 'vars']) });
      g.vars = { values: node.vars, file: y, path: [...path, 'vars'] };
    }
    if (node.hosts != null) {
      if (!isPlainObject(node.hosts)) throw new UserError(`hosts of group ${name} must be a mapping`, { file: y.file, line: y.lineOf([...path, 'hosts']) });
      for (const [h, hv] of Object.entries(node.hosts)) {
        if (hv != null && !isPlainObject(hv)) throw new UserError(`host ${h}: expected a mapping of variables`, { file: y.file, line: y.lineOf([...path, 'hosts', h]), host: h });
        g.hosts.add(h);
        const list = hostEntries.get(h) ?? [];
        list.push({ vars: (hv as Record<string, unknown>) ?? {}, path: [...path, 'hosts', h] });
        hostEntries.set(h, list);
      }
    }
    if (node.children != null) {
      if (!isPlainObject(node.children)) throw new UserError(`children of group ${name} must be a mapping`, { file: y.file, line: y.lineOf([...path, 'children']) });
      for (const [c, cn] of Object.entries(node.children)) readGroup(c, cn, [...path, 'children', c], depth + 1, name);
    }
  };

  for (const [name, node] of Object.entries(y.data)) {
    readGroup(name, node, [name], name === 'all' ? 0 : 1, name === 'all' ? undefined : 'all');
  }
  group('all', 0);

  // Transitive membership: a host of a child group is in every ancestor group.
  const members = new Map<string, Set<string>>();
  const membersOf = (name: string, seen = new Set<string>()): Set<string> => {
    if (members.has(name)) return members.get(name)!;
    if (seen.has(name)) throw new UserError(`group ${name} is its own ancestor`, { file: y.file });
    seen.add(name);
    const set = new Set(groups.get(name)!.hosts);
    for (const g of groups.values()) if (g.parents.has(name)) for (const h of membersOf(g.name, seen)) set.add(h);
    members.set(name, set);
    return set;
  };
  for (const name of groups.keys()) membersOf(name);
  for (const h of hostEntries.keys()) members.get('all')!.add(h);

  const hosts = new Map<string, Host>();
  for (const [name, entries] of hostEntries) {
    // Ansible's order: all, then groups by depth (parents before children), then by name.
    const myGroups = [...groups.values()]
      .filter((g) => members.get(g.name)!.has(name))
      .sort((a, b) => (a.name === 'all' ? -1 : b.name === 'all' ? 1 : a.depth - b.depth || a.name.localeCompare(b.name)));
    const vars: Record<string, unknown> = {};
    const origins: Record<string, VarOrigin> = {};
    const put = (values: Record<string, unknown>, file: YamlFile, path: (string | number)[], layer: string) => {
      for (const [k, v] of Object.entries(values)) {
        vars[k] = v;
        origins[k] = { file: file.file, line: file.lineOf([...path, k]), layer };
      }
    };
    // Ansible's precedence: every group's inline vars, then every group_vars file (each in group order).
    for (const g of myGroups) if (g.vars) put(g.vars.values, g.vars.file, g.vars.path, `group ${g.name} (inventory)`);
    for (const g of myGroups) {
      for (const f of varsOf('group_vars', g.name)) put((f.data as Record<string, unknown>) ?? {}, f, [], `group_vars/${g.name}`);
    }
    for (const e of entries) put(e.vars, y, e.path, `host ${name} (inventory)`);
    for (const f of varsOf('host_vars', name)) put((f.data as Record<string, unknown>) ?? {}, f, [], `host_vars/${name}`);
    hosts.set(name, { name, groups: myGroups.map((g) => g.name), vars, origins });
  }
  const secretValues = new Set(y.secrets);
  for (const files of loaded.values()) for (const f of files) for (const v of f.secrets) secretValues.add(v);
  return { source: main, hosts, groups: members, secretValues: [...secretValues] };
}
