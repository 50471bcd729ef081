/**
 * Ansible's INI inventory format, read as ansible-core's ini plugin reads it (learned from its
 * source and checked against `ansible-inventory --list`, see test/e2e/ansible-inventory.e2e.test.ts):
 *
 * ```ini
 * loose1                        # before any section: ungrouped
 * [web]
 * web[01:03].example.org:2222 ansible_user=admin tier=1   # ranges, a port, inline host vars
 * [web:vars]
 * http_port=8080                # one variable a line, everything after = is the value
 * [matrix:children]
 * web                           # a child group: must have a section of its own somewhere
 * ```
 *
 * Values, inline and in `[group:vars]` alike, are Python literals when they read as one (see
 * python-literal.ts): `tier=1` is the integer 1, `x=True` a boolean, `x="'1'"` the string "1",
 * `x=yes` the string "yes". Host lines are split as a POSIX shell would (quotes group words, `#`
 * starts a comment even inside a word), `[group:vars]` lines at the first `=`.
 */
import { UserError } from '../errors.ts';
import { expandHostPattern, HostPatternError } from './host-pattern.ts';
import type { InventoryModel, Place } from './model.ts';
import { pythonLiteral } from './python-literal.ts';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

/** Python's shlex.split(line, comments=True) (POSIX mode). */
export function shlexSplit(line: string): string[] {
  const out: string[] = [];
  let token = '';
  let quoted = false;
  let state: ' ' | 'a' | "'" | '"' = ' ';
  const emit = () => {
    if (token || quoted) out.push(token);
    token = '';
    quoted = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (state === "'" || state === '"') {
      if (c === state) state = 'a';
      else if (state === '"' && c === '\\') {
        const n = line[i + 1];
        if (n === undefined) throw new Error('no character after the escape \\');
        if (n !== '"' && n !== '\\') token += '\\';
        token += n;
        i++;
      } else token += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (state === 'a') emit();
      state = ' ';
      continue;
    }
    if (c === '#') {
      if (state === 'a') emit();
      return out; // the rest of the line is a comment, also in the middle of a word
    }
    if (c === "'" || c === '"') {
      state = c;
      quoted = true;
      continue;
    }
    if (c === '\\') {
      const n = line[i + 1];
      if (n === undefined) throw new Error('no character after the escape \\');
      token += n;
      i++;
      state = 'a';
      continue;
    }
    token += c;
    state = 'a';
  }
  if (state === "'" || state === '"') throw new Error(`no closing quotation (${state})`);
  if (state === 'a') emit();
  return out;
}

/** Reads one INI inventory file into the model. `file` is the path as shown in errors. */
export function readIni(text: string, file: string, model: InventoryModel): void {
  const pending = new Map<string, { line: number; state: 'vars' | 'children'; parents: string[] }>();
  let group = 'ungrouped';
  let state = 'hosts';
  const lines = text.split(/\r?\n/);

  const addPendingChildren = (g: string) => {
    const decl = pending.get(g)!;
    pending.delete(g);
    for (const parent of decl.parents) {
      model.addChild(parent, g, { file, line: decl.line });
      if (pending.get(parent)?.state === 'children') addPendingChildren(parent);
    }
  };

  lines.forEach((raw, index) => {
    const line = raw.trim();
    const at: Place = { file, line: index + 1 };
    const fail = (message: string, key?: string): never => {
      throw new UserError(message, { ...at, ...(key ? { key } : {}) });
    };
    if (!line || line[0] === '#' || line[0] === ';') return;

    const section = SECTION.exec(line);
    if (section) {
      group = section[1]!;
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) fail(`section [${group}:${state}] has an unknown type ${state} (hosts, children or vars)`);
      if (!model.groups.has(group)) {
        // [g:vars] alone does not declare g: a [g] or [g:children] section must, in this file or an earlier source.
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: index + 1, state: 'vars', parents: [] });
        model.group(group, at);
      }
      const p = pending.get(group);
      if (p && state !== 'vars') {
        if (p.state === 'children') addPendingChildren(group);
        else pending.delete(group);
      }
      if (state !== 'vars') model.group(group, at);
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      fail(`invalid section ${line}: a section is [group], [group:vars] or [group:children], with no spaces`);
    }

    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        return fail(`cannot read the host line: ${(e as Error).message}`);
      }
      const pattern = tokens[0]!;
      if (pattern === '---') fail(`'---' is not a host: this looks like a YAML file (name it .yml or .yaml)`);
      if (pattern.endsWith(':') && !/:\d+$/.test(pattern)) fail(`host ${pattern}: a host name cannot end with ':' (name:port gives a port)`);
      let expanded: ReturnType<typeof expandHostPattern>;
      try {
        expanded = expandHostPattern(pattern);
      } catch (e) {
        if (e instanceof HostPatternError) return fail(e.message);
        throw e;
      }
      const vars: [string, unknown][] = [];
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        if (eq === -1) fail(`expected key=value after the host name, got '${t}' (quote a value that holds spaces)`);
        const key = t.slice(0, eq);
        if (!key) fail(`a variable needs a name before '=' ('${t}')`);
        vars.push([key, iniValue(t.slice(eq + 1), key, at)]);
      }
      for (const h of expanded.hosts) {
        model.addHost(h, group, expanded.port, at);
        for (const [k, v] of vars) model.setHostVar(h, k, v, at);
      }
      return;
    }

    if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq === -1) fail(`expected key=value in [${group}:vars], got '${line}'`);
      const key = line.slice(0, eq).trim();
      if (!key) fail(`a variable needs a name before '=' ('${line}')`);
      model.setGroupVar(group, key, iniValue(line.slice(eq + 1).trim(), key, at), at);
      return;
    }

    // children
    const m = GROUP_NAME.exec(line);
    if (!m) fail(`expected a group name in [${group}:children], got '${line}'`);
    const child = m![1]!;
    if (!model.groups.has(child)) {
      const p = pending.get(child);
      if (p) p.parents.push(group);
      else pending.set(child, { line: index + 1, state: 'children', parents: [group] });
    } else {
      model.addChild(group, child, at);
    }
  });

  for (const [name, decl] of pending) {
    const at = { file, line: decl.line };
    if (decl.state === 'vars') {
      throw new UserError(`[${name}:vars] is for a group no [${name}] or [${name}:children] section declares (Ansible refuses it too)`, at);
    }
    throw new UserError(
      `[${decl.parents.at(-1)}:children] names the group ${name}, which no [${name}] or [${name}:children] section declares (add an empty [${name}] section if it has no hosts of its own)`,
      at,
    );
  }
}

/** A value as Ansible's ini plugin reads it: a Python literal, or else the text as written. */
function iniValue(text: string, key: string, at: Place): unknown {
  const r = pythonLiteral(text);
  if (r.kind === 'value') return r.value;
  if (r.kind === 'text') return text;
  throw new UserError(
    `${key}=${text}: ${r.why} is not supported in an INI value (Ansible reads the value as a Python literal); quote it ("'…'") to keep it as text`,
    { ...at, key },
  );
}
