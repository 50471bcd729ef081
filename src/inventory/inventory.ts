import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { suggest, UserError, UserErrors } from '../errors.ts';
import { displayPath, isPlainObject, loadYaml, parseYaml, type YamlFile } from '../config/yaml-file.ts';
import { checkReservedName, checkReservedValue } from './connection-vars.ts';
import { expandHostPattern, HostPatternError, splitPort } from './host-pattern.ts';
import { readIni } from './ini.ts';
import { InventoryModel, sortGroups, type Place } from './model.ts';

/** Where a variable's value came from: shown in errors and by `mxplay inventory`. */
export interface VarOrigin {
  file: string;
  line?: number;
  layer: string;
}

export interface Host {
  name: string;
  groups: string[]; // every group the host is in, 'all' first, in Ansible's order (depth, priority, name)
  vars: Record<string, unknown>;
  origins: Record<string, VarOrigin>;
}

export interface Inventory {
  /** The first inventory source (a file, or a folder's first file). */
  source: string;
  /** Every source given with -i, resolved (files, folders, or `a,b` host lists as given). */
  sources?: string[];
  /** Every file read: inventory files and group_vars/host_vars files (absolute paths). */
  files?: string[];
  /** Folders whose group_vars/ and host_vars/ belong to the inventory (absolute paths). */
  varsDirs?: string[];
  hosts: Map<string, Host>;
  groups: Map<string, Set<string>>; // group -> host names (transitively)
  /** Each group's own children and directly listed hosts (the shape of `ansible-inventory --list`). */
  tree?: Map<string, { children: string[]; hosts: string[] }>;
  /** Every value read with `!env`, `!file` or `!command` in the inventory and its vars files: to register as secrets. */
  secretValues: string[];
  /** Every value written `!unsafe` in the inventory and its vars files: never evaluated as Jinja. */
  literalValues?: string[];
}

/** Values the inventory's YAML files gave through tags: secrets to mask, literals never templated. */
interface FoundValues {
  secrets: Set<string>;
  literals: Set<string>;
}

function noteValues(y: YamlFile, found: FoundValues): void {
  for (const s of y.secrets) found.secrets.add(s);
  for (const l of y.literals) found.literals.add(l);
}

/** Files an inventory folder holds that Ansible does not read as inventory (INVENTORY_IGNORE_EXTS). */
const IGNORED_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.cfg', '.retry'];
const YAML_EXTS = ['.yml', '.yaml', '.json'];

/**
 * `-i prod` → inventory/prod.yml, inventory/prod.yaml, inventory/prod.ini, inventory/prod (a file or
 * a folder), else the path as given.
 */
export function resolveInventoryPath(arg: string, cwd = process.cwd()): string {
  const candidates = [
    join(cwd, 'inventory', `${arg}.yml`),
    join(cwd, 'inventory', `${arg}.yaml`),
    join(cwd, 'inventory', `${arg}.ini`),
    join(cwd, 'inventory', arg),
    resolve(cwd, arg),
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new UserError(`inventory not found: tried ${candidates.map((c) => c.replace(cwd + '/', '')).join(', ')}`);
}

/** A name's extension as Ansible sees it (os.path.splitext: a leading dot is not one). */
const extOf = (name: string) => extname(name);

/**
 * The files an inventory folder stands for, as Ansible reads a folder: every entry in name order,
 * folders recursively, except hidden entries, group_vars/, host_vars/ and ignored extensions.
 * `.ini` files are ignored by Ansible in a folder: refused here, since the user surely meant them.
 */
function folderFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'vars_plugins') continue;
    const p = join(dir, name);
    if (name === 'group_vars' || name === 'host_vars') continue;
    if (IGNORED_EXTS.some((e) => name.endsWith(e))) continue;
    if (statSync(p).isDirectory()) {
      for (const sub of ['group_vars', 'host_vars']) {
        if (existsSync(join(p, sub))) {
          throw new UserError(`${sub}/ in a sub-folder of the inventory folder is not read (by Ansible either): only ${displayPath(join(dir, sub))}/ next to the inventory is`, { file: displayPath(join(p, sub)) });
        }
      }
      out.push(...folderFiles(p));
    } else if (name.endsWith('.ini')) {
      throw new UserError(
        `an inventory folder's .ini files are not read (Ansible ignores them: INVENTORY_IGNORE_EXTS): name it without .ini (e.g. hosts), or give it with -i ${displayPath(p)}`,
        { file: displayPath(p) },
      );
    } else out.push(p);
  }
  return out;
}

/** Inventory file → its format, refusing the forms mxplay does not read, by name. */
function readSource(path: string, model: InventoryModel, found: FoundValues): void {
  const shown = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: shown });
  }
  if (text.startsWith('#!')) {
    throw new UserError('an inventory script (it starts with #!) is not supported by mxplay: write its output as a YAML or INI inventory', { file: shown, line: 1 });
  }
  const ext = extOf(path);
  if (ext === '.toml') throw new UserError('a TOML inventory is not supported by mxplay: use the YAML or INI format', { file: shown });
  if (YAML_EXTS.includes(ext)) {
    readYamlInventory(parseYaml(text, path), model, found);
    return;
  }
  if (ext === '') {
    // As Ansible: a file without extension is YAML if it reads as a YAML inventory, else INI.
    let y: YamlFile | undefined;
    let yamlError: unknown;
    try {
      y = parseYaml(text, path);
    } catch (e) {
      yamlError = e;
    }
    if (y && isPlainObject(y.data)) {
      readYamlInventory(y, model, found);
      return;
    }
    try {
      readIni(text, shown, model);
    } catch (e) {
      if (yamlError instanceof UserError && e instanceof UserError) {
        throw new UserError(`neither YAML (${yamlError.toString()}) nor INI: ${e.message}`, e.context);
      }
      throw e;
    }
    return;
  }
  readIni(text, shown, model);
}

/** Ansible's YAML inventory format (the yaml inventory plugin), into the model. */
function readYamlInventory(y: YamlFile, model: InventoryModel, found: FoundValues): void {
  noteValues(y, found);
  const at = (path: (string | number)[]): Place => ({ file: y.file, line: y.lineOf(path) });
  if (y.data == null) return; // an empty file: no hosts (Ansible reads it as an empty INI file)
  if (!isPlainObject(y.data)) throw new UserError('an inventory is a mapping of groups (all: …)', { file: y.file });
  if ('plugin' in y.data) {
    throw new UserError(`an inventory plugin configuration (plugin: ${String(y.data.plugin)}) is not supported by mxplay: write the hosts as a YAML or INI inventory`, at(['plugin']));
  }
  /** `hosts: web1` (a string) is Ansible's short form of a mapping with one key. */
  const mapping = (v: unknown, what: string, path: string[]): Record<string, unknown> | null => {
    if (v == null) return null;
    if (typeof v === 'string') return { [v]: null };
    if (!isPlainObject(v)) throw new UserError(`${what} must be a mapping`, at(path));
    return v;
  };
  const readGroup = (name: string, node: unknown, path: string[]) => {
    if (node != null && !isPlainObject(node)) throw new UserError(`group ${name} must be a mapping`, at(path));
    model.group(name, at(path));
    if (node == null) return;
    for (const key of Object.keys(node)) {
      if (!['hosts', 'vars', 'children'].includes(key)) {
        throw new UserError(`unknown key in group ${name} (expected hosts, vars, children)`, { ...at([...path, key]), key });
      }
    }
    const vars = mapping(node.vars, `vars of group ${name}`, [...path, 'vars']);
    for (const [k, v] of Object.entries(vars ?? {})) model.setGroupVar(name, k, v, at([...path, 'vars', k]));
    const children = mapping(node.children, `children of group ${name}`, [...path, 'children']);
    for (const [c, cn] of Object.entries(children ?? {})) {
      readGroup(c, cn, [...path, 'children', c]);
      model.addChild(name, c, at([...path, 'children', c]));
    }
    const hosts = mapping(node.hosts, `hosts of group ${name}`, [...path, 'hosts']);
    for (const [pattern, hv] of Object.entries(hosts ?? {})) {
      const hp = [...path, 'hosts', pattern];
      if (hv != null && !isPlainObject(hv)) throw new UserError(`host ${pattern}: expected a mapping of variables`, { ...at(hp), host: pattern });
      let expanded: ReturnType<typeof expandHostPattern>;
      try {
        expanded = expandHostPattern(pattern);
      } catch (e) {
        if (e instanceof HostPatternError) throw new UserError(e.message, at(hp));
        throw e;
      }
      for (const h of expanded.hosts) {
        model.addHost(h, name, expanded.port, at(hp));
        for (const [k, v] of Object.entries((hv as Record<string, unknown> | null) ?? {})) model.setHostVar(h, k, v, at([...hp, k]));
      }
    }
  };
  for (const [name, node] of Object.entries(y.data)) readGroup(name, node, [name]);
}

/**
 * group_vars/NAME: Ansible reads the first of NAME (a file, or a folder of files), NAME.yml,
 * NAME.yaml, NAME.json, and nothing of the others: two of them is refused. In a folder, files
 * without extension or with .yml/.yaml/.json, recursively, in name order.
 */
function varFiles(base: string, name: string): string[] {
  const found = ['', ...YAML_EXTS].map((e) => join(base, name + e)).filter((p) => existsSync(p));
  if (found.length > 1) {
    throw new UserError(
      `${found.map((p) => displayPath(p) + (statSync(p).isDirectory() ? '/' : '')).join(' and ')} are both there: Ansible reads only the first (${displayPath(found[0]!)}) and ignores the other; merge them`,
      { file: displayPath(found[1]!) },
    );
  }
  if (!found.length) return [];
  const p = found[0]!;
  if (!statSync(p).isDirectory()) return [p];
  const walk = (dir: string): string[] =>
    readdirSync(dir).sort().flatMap((f) => {
      if (f.startsWith('.') || f.endsWith('~')) return [];
      const full = join(dir, f);
      const ext = extOf(f);
      if (statSync(full).isDirectory()) return ext ? [] : walk(full);
      return !ext || YAML_EXTS.includes(ext) ? [full] : [];
    });
  return walk(p);
}

/** Entries of group_vars/ (host_vars/) that name no group (host): a typo Ansible would silently ignore. */
function strayVarFiles(base: string, known: Iterable<string>, kind: 'group' | 'host'): UserError[] {
  if (!existsSync(base) || !statSync(base).isDirectory()) return [];
  const names = new Set(known);
  const errors: UserError[] = [];
  for (const f of readdirSync(base).sort()) {
    if (f.startsWith('.') || f.endsWith('~')) continue;
    const full = join(base, f);
    const ext = extOf(f);
    const isDir = statSync(full).isDirectory();
    if (!isDir && ext && !YAML_EXTS.includes(ext)) continue; // README.md and the like: not vars files
    const name = isDir || !ext ? f : f.slice(0, -ext.length);
    if (names.has(name) || names.has(f)) continue;
    const hint = suggest(name, names);
    errors.push(new UserError(`${displayPath(full)}${isDir ? '/' : ''}: no ${kind} ${name} in the inventory${hint ? `; did you mean ${hint}?` : ''} (its variables would apply to nothing)`, { file: displayPath(full) }));
  }
  return errors;
}

/** A `-i` argument: a path (file or folder), or Ansible's `host1,host2` list. */
type Source = { kind: 'path'; path: string } | { kind: 'list'; text: string };

function resolveSource(arg: string, cwd: string): Source {
  try {
    return { kind: 'path', path: resolveInventoryPath(arg, cwd) };
  } catch (e) {
    if (arg.includes(',')) return { kind: 'list', text: arg };
    throw e;
  }
}

/**
 * Reads one or more inventories (`-i a -i b`: merged in order, the later winning for the same
 * variable, as Ansible does), with their group_vars/ and host_vars/. Every problem is an error
 * naming file and line; all `ansible_*`/`mxplay_*` variables are checked against the table of
 * connection-vars.ts.
 */
export function loadInventory(arg: string | readonly string[], cwd = process.cwd(), o: { skipVarsFiles?: ReadonlySet<string> } = {}): Inventory {
  const args = typeof arg === 'string' ? [arg] : [...arg];
  if (!args.length) throw new UserError('-i INVENTORY is required');
  const model = new InventoryModel();
  const found: FoundValues = { secrets: new Set(), literals: new Set() };
  const files: string[] = [];
  const varsDirs: string[] = [];
  const sources: string[] = [];
  for (const a of args) {
    const src = resolveSource(a, cwd);
    if (src.kind === 'list') {
      sources.push(src.text);
      for (const item of src.text.split(',').map((s) => s.trim()).filter(Boolean)) {
        let host: ReturnType<typeof splitPort>;
        try {
          host = splitPort(item);
        } catch (e) {
          throw new UserError(`-i ${src.text}: ${(e as Error).message}`);
        }
        if (host.name.includes('[')) throw new UserError(`-i ${src.text}: ${item}: a host list given with -i takes no ranges (as in Ansible)`);
        model.addHost(host.name, 'ungrouped', host.port, { file: `-i ${src.text}` });
      }
      continue;
    }
    sources.push(src.path);
    const isDir = statSync(src.path).isDirectory();
    const dir = isDir ? src.path : dirname(src.path);
    if (!varsDirs.includes(dir)) varsDirs.push(dir);
    const list = isDir ? folderFiles(src.path) : [src.path];
    if (isDir && !list.length) throw new UserError('no inventory file in this folder (hosts.yml, hosts, …)', { file: displayPath(src.path) });
    for (const f of list) {
      readSource(f, model, found);
      files.push(f);
    }
  }
  model.reconcile();

  const depth = model.depths();
  const errors: UserError[] = [];
  // Each vars file is read (and its !command run) once, however many hosts it applies to.
  const loaded = new Map<string, YamlFile[]>();
  const varsOf = (dir: string, kind: 'group_vars' | 'host_vars', name: string): YamlFile[] => {
    const key = `${dir}\0${kind}\0${name}`;
    let ys = loaded.get(key);
    if (!ys) {
      // A vars file about to be replaced (mxplay import --force) is not read: its values are being thrown away.
      ys = varFiles(join(dir, kind), name).filter((f) => !o.skipVarsFiles?.has(f)).map((f) => {
        const y = loadYaml(f);
        if (y.data != null && !isPlainObject(y.data)) throw new UserError('expected a mapping of variables', { file: y.file });
        files.push(f);
        noteValues(y, found);
        for (const k of Object.keys((y.data as Record<string, unknown>) ?? {})) {
          const line = y.lineOf([k]);
          if (k === 'ansible_group_priority') {
            errors.push(new UserError(`ansible_group_priority takes effect only in an inventory file's group vars (Ansible ignores it in ${kind}/)`, { file: y.file, line, key: k }));
            continue;
          }
          const verdict = checkReservedName(k, 'inventory');
          if (!verdict.ok) errors.push(new UserError(verdict.message, { file: y.file, line, key: k }));
        }
        return y;
      });
      loaded.set(key, ys);
    }
    return ys;
  };
  for (const dir of varsDirs) {
    errors.push(...strayVarFiles(join(dir, 'group_vars'), model.groups.keys(), 'group'));
    errors.push(...strayVarFiles(join(dir, 'host_vars'), model.hosts.keys(), 'host'));
  }

  // Variables of the inventory files: checked where they are written, whichever host they reach.
  for (const g of model.groups.values()) {
    for (const [k, e] of g.vars) {
      const verdict = checkReservedName(k, 'inventory');
      if (!verdict.ok) errors.push(new UserError(verdict.message, { file: e.file, ...(e.line ? { line: e.line } : {}), key: k }));
    }
  }
  for (const h of model.hosts.values()) {
    for (const [k, e] of h.vars) {
      if (k === 'ansible_group_priority') {
        errors.push(new UserError(`ansible_group_priority is a group variable (Ansible ignores it on a host)`, { file: e.file, ...(e.line ? { line: e.line } : {}), host: h.name, key: k }));
        continue;
      }
      const verdict = checkReservedName(k, 'inventory');
      if (!verdict.ok) errors.push(new UserError(verdict.message, { file: e.file, ...(e.line ? { line: e.line } : {}), host: h.name, key: k }));
    }
  }

  const hosts = new Map<string, Host>();
  for (const name of model.hosts.keys()) {
    const member = model.groupsOf(name);
    const ordered = sortGroups(member, model, depth); // all (depth 0) first
    const others = ordered.filter((g) => g !== 'all');
    const vars: Record<string, unknown> = {};
    const origins: Record<string, VarOrigin> = {};
    const putEntries = (entries: Map<string, { value: unknown; file: string; line?: number }>, layer: string) => {
      for (const [k, e] of entries) {
        vars[k] = e.value;
        origins[k] = { file: e.file, ...(e.line ? { line: e.line } : {}), layer };
      }
    };
    const putFile = (f: YamlFile, layer: string) => {
      for (const [k, v] of Object.entries((f.data as Record<string, unknown>) ?? {})) {
        vars[k] = v;
        const line = f.lineOf([k]);
        origins[k] = { file: f.file, ...(line ? { line } : {}), layer };
      }
    };
    // Ansible's precedence (VARIABLE_PRECEDENCE): all's inline vars, every other group's inline vars
    // (by depth, priority, name), group_vars/all of each source, each source's group_vars of the
    // groups (in group order), the host's inline vars (every source), each source's host_vars.
    putEntries(model.groups.get('all')!.vars, 'group all (inventory)');
    for (const g of others) putEntries(model.groups.get(g)!.vars, `group ${g} (inventory)`);
    for (const dir of varsDirs) for (const f of varsOf(dir, 'group_vars', 'all')) putFile(f, 'group_vars/all');
    for (const dir of varsDirs) for (const g of others) for (const f of varsOf(dir, 'group_vars', g)) putFile(f, `group_vars/${g}`);
    putEntries(model.hosts.get(name)!.vars, `host ${name} (inventory)`);
    for (const dir of varsDirs) for (const f of varsOf(dir, 'host_vars', name)) putFile(f, `host_vars/${name}`);

    // The values of honoured variables, as this host ends up with them.
    for (const [k, v] of Object.entries(vars)) {
      const verdict = checkReservedName(k, 'inventory');
      if (!verdict.ok || !verdict.entry) continue;
      const problem = checkReservedValue(verdict.entry, v);
      if (problem) {
        const o = origins[k]!;
        errors.push(new UserError(problem, { file: o.file, ...(o.line ? { line: o.line } : {}), host: name, key: k }));
      }
    }
    hosts.set(name, { name, groups: ordered, vars, origins });
  }
  // group_vars of groups no host is in are read too: their typos and refused names are errors as well.
  for (const dir of varsDirs) for (const g of model.groups.keys()) varsOf(dir, 'group_vars', g);

  if (errors.length) {
    const seen = new Set<string>();
    const where = (e: UserError) => [e.context.file ?? '', e.context.line ?? 0] as const;
    errors.sort((a, b) => (where(a)[0] < where(b)[0] ? -1 : where(a)[0] > where(b)[0] ? 1 : where(a)[1] - where(b)[1]));
    const unique = errors.filter((e) => {
      const id = e.toString();
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    throw unique.length === 1 ? unique[0]! : new UserErrors(unique);
  }

  const members = new Map<string, Set<string>>();
  for (const g of model.groups.keys()) members.set(g, new Set());
  for (const h of hosts.values()) for (const g of h.groups) members.get(g)!.add(h.name);
  // Keep the hosts' order in each group.
  for (const [g, set] of members) members.set(g, new Set([...hosts.keys()].filter((h) => set.has(h))));
  const tree = new Map([...model.groups.values()].map((g) => [g.name, { children: [...g.children], hosts: [...g.hosts] }]));
  const first = files[0] ?? sources[0]!;
  return { source: first, sources, files: [...new Set(files)], varsDirs, hosts, groups: members, tree, secretValues: [...found.secrets], literalValues: [...found.literals] };
}

/** The inventory in the shape `ansible-inventory --list` prints (groups' children and hosts, _meta.hostvars). */
export function ansibleListShape(inv: Inventory, hostvars: (h: Host) => Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const visit = (name: string) => {
    const t = inv.tree?.get(name) ?? { children: [], hosts: [] };
    const entry: Record<string, string[]> = {};
    if (name !== 'all' && t.hosts.length) entry.hosts = [...t.hosts];
    if (t.children.length) entry.children = [...t.children];
    if (Object.keys(entry).length) out[name] = entry;
    for (const c of t.children) {
      if (seen.has(c)) continue;
      seen.add(c);
      visit(c);
    }
  };
  visit('all');
  const meta: Record<string, Record<string, unknown>> = {};
  for (const h of inv.hosts.values()) {
    const v = hostvars(h);
    if (Object.keys(v).length) meta[h.name] = v;
  }
  return { _meta: { hostvars: meta }, ...out };
}

/**
 * Every file an inventory is made of, for a saved plan's digests (absolute paths): the inventory
 * files (every file of an inventory folder Ansible would read, so a new one is noticed too), then
 * each group_vars/ and host_vars/ file that could be read (no extension, .yml, .yaml, .json).
 */
export function inventoryInputFiles(inv: Inventory): string[] {
  const walk = (dir: string, keep: (name: string) => boolean, skip: string[] = []): string[] => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
    return readdirSync(dir).sort().flatMap((name) => {
      if (name.startsWith('.') || skip.includes(name)) return [];
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p, keep) : keep(name) ? [p] : [];
    });
  };
  const sources = (inv.sources ?? [inv.source]).filter((s) => existsSync(s));
  const inventoryFiles = sources.flatMap((s) =>
    statSync(s).isDirectory() ? walk(s, (n) => !IGNORED_EXTS.some((e) => n.endsWith(e)), ['group_vars', 'host_vars']) : [resolve(s)],
  );
  const varsFile = (n: string) => !n.endsWith('~') && (!extOf(n) || YAML_EXTS.includes(extOf(n)));
  const dirs = inv.varsDirs ?? [dirname(inv.source)];
  const vars = dirs.flatMap((d) => [...walk(join(d, 'group_vars'), varsFile), ...walk(join(d, 'host_vars'), varsFile)]);
  return [...new Set([...inventoryFiles, ...vars])];
}
