import { dirname } from 'node:path';
import { types } from 'node:util';
import { UserError } from '../errors.ts';
import type { Inventory, VarOrigin } from '../inventory/inventory.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { looksSecret } from '../secrets/secrets.ts';
import { isTemplate, renderTemplate, TemplateFailure, undefinedValue } from './jinja.ts';

/** A host's variables before templating, with where each came from. */
export interface RawVars {
  values: Record<string, unknown>;
  origin: (k: string) => VarOrigin | undefined;
}

/** A value read while evaluating a template: if it holds a secret, so does the result. */
interface Read {
  name: string;
  value: unknown;
}

/**
 * What the templates of every host of one build share: the inventory (groups, hostvars), the
 * secrets, the stack of what is being evaluated (loops across hosts are found too), and which
 * results came from which values (results made from a secret are secrets: see registerDerived).
 */
export class TemplateWorld {
  private readonly hostTemplars = new Map<string, VarTemplar>();
  private readonly evaluatedHosts = new Map<string, Readonly<Record<string, unknown>> | undefined>();
  /** host\0key entries being evaluated, outermost first. */
  readonly stack: { host: string; key: string }[] = [];
  readonly reads: Read[][] = [];
  private readonly derived: { result: unknown; inputs: Read[] }[] = [];
  readonly groups: Record<string, string[]>;
  /** Every variable name a template has read: a helper variable no role knows is used all the same. */
  readonly readNames = new Set<string>();

  constructor(
    readonly inventory: Inventory,
    /** Another host's variables as `hostvars` shows them: its inventory variables and -e. */
    private readonly hostVarsOf: (host: string) => RawVars | undefined,
    readonly secrets: SecretRegistry,
    readonly playbookDir?: string,
    /**
     * Values read with !env, !file, !command or !vault: text as it is, never a template (as
     * Ansible's lookups give "unsafe" text): a password holding `{{` is a password.
     */
    readonly literals: ReadonlySet<string> = new Set(),
  ) {
    this.groups = Object.fromEntries([...inventory.groups].map(([g, hosts]) => [g, [...hosts]]));
    if (!this.groups.ungrouped) {
      this.groups.ungrouped = [...inventory.hosts.values()].filter((h) => h.groups.every((g) => g === 'all' || g === 'ungrouped')).map((h) => h.name);
    }
  }

  /** The templar of `hostvars[host]` (undefined for a host not in the inventory). */
  hostTemplar(host: string): VarTemplar | undefined {
    let t = this.hostTemplars.get(host);
    if (!t) {
      const raw = this.hostVarsOf(host);
      if (!raw || !this.inventory.hosts.has(host)) return undefined;
      t = new VarTemplar(this, host, raw);
      this.hostTemplars.set(host, t);
    }
    return t;
  }

  /**
   * Every variable of another host as `hostvars` shows it, evaluated once per build (roles read
   * other hosts' values for each host they run on); undefined for a host not in the inventory.
   * A template that cannot be evaluated throws its error.
   */
  hostValues(host: string): Readonly<Record<string, unknown>> | undefined {
    if (!this.evaluatedHosts.has(host)) {
      const r = this.hostTemplar(host)?.evaluateAll();
      if (r?.errors.length) throw r.errors[0]!;
      this.evaluatedHosts.set(host, r?.values);
    }
    return this.evaluatedHosts.get(host);
  }

  /** Whether a value holds a known secret anywhere (a secret inside a longer string too). */
  holdsSecret(v: unknown): boolean {
    if (types.isProxy(v)) return false; // hostvars, vars: their values are read one by one
    if (typeof v === 'string') return v.length > 0 && (this.secrets.has(v) || this.secrets.mask(v) !== v);
    if (Array.isArray(v)) return v.some((x) => this.holdsSecret(x));
    if (v && typeof v === 'object') return Object.values(v).some((x) => this.holdsSecret(x));
    return false;
  }

  private registerAll(v: unknown): void {
    if (types.isProxy(v)) return;
    if (typeof v === 'string') { if (v) this.secrets.add(v); }
    else if (Array.isArray(v)) v.forEach((x) => this.registerAll(x));
    else if (v && typeof v === 'object') Object.values(v).forEach((x) => this.registerAll(x));
  }

  /** Records a template's result and what it read; a result made from a secret is one now. */
  noteDerived(result: unknown, inputs: Read[]): void {
    this.derived.push({ result, inputs });
    if (inputs.some((r) => looksSecret(r.name) || this.holdsSecret(r.value))) this.registerAll(result);
  }

  /**
   * Registers again every result made from a value known as a secret by now: role variables
   * declared secret() are known only once validated, after the templates were evaluated.
   */
  registerDerived(): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const d of this.derived) {
        if (this.holdsSecret(d.result) || !d.inputs.some((r) => this.holdsSecret(r.value))) continue;
        this.registerAll(d.result);
        changed = this.holdsSecret(d.result) || changed;
      }
    }
  }
}

const MAGIC = new Set(['inventory_hostname', 'inventory_hostname_short', 'group_names', 'groups', 'hostvars', 'vars', 'playbook_dir', 'inventory_dir', 'inventory_file']);

/**
 * One host's variables with their Jinja templates evaluated lazily, as Ansible does: a template
 * sees the final merged value of every variable it names (for this host, with -e), evaluated in
 * turn when named; a loop is an error. Values that are not strings holding `{{`, `{%` or `{#` are
 * returned as they are; templates inside lists and mappings are evaluated too.
 */
export class VarTemplar {
  private readonly cache = new Map<string, unknown>();

  constructor(
    private readonly world: TemplateWorld,
    readonly host: string,
    private readonly raw: RawVars,
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.raw.values, name) || this.magic(name) !== undefined;
  }

  /** The evaluated value of a variable (undefined when the host has no such variable). */
  value(key: string): unknown {
    if (this.cache.has(key)) return this.cache.get(key);
    const magic = this.magic(key);
    if (magic !== undefined && !Object.hasOwn(this.raw.values, key)) return magic;
    if (!Object.hasOwn(this.raw.values, key)) return undefined;
    const raw = this.raw.values[key];
    if (!holdsTemplate(raw, this.world.literals)) {
      this.cache.set(key, raw);
      return raw;
    }
    const w = this.world;
    const at = w.stack.findIndex((s) => s.host === this.host && s.key === key);
    if (at >= 0) {
      const chain = [...w.stack.slice(at), { host: this.host, key }].map((s) => (s.host === this.host ? s.key : `hostvars['${s.host}']['${s.key}']`));
      throw this.error(key, `recursive loop in templates: ${chain.join(' → ')}`);
    }
    w.stack.push({ host: this.host, key });
    const reads: Read[] = [];
    w.reads.push(reads);
    try {
      const value = this.evaluate(key, raw);
      this.cache.set(key, value);
      return value;
    } finally {
      w.stack.pop();
      w.reads.pop();
    }
  }

  /** Every variable evaluated; an error for each that cannot be, naming its file, line, host and key. */
  evaluateAll(only?: (key: string) => boolean): { values: Record<string, unknown>; errors: UserError[] } {
    const values: Record<string, unknown> = {};
    const errors: UserError[] = [];
    for (const k of Object.keys(this.raw.values)) {
      if (only && !only(k)) continue;
      try {
        values[k] = this.value(k);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        errors.push(e);
      }
    }
    return { values, errors };
  }

  private evaluate(key: string, v: unknown): unknown {
    if (isTemplate(v) && !this.world.literals.has(v)) {
      // What this template read makes its result a secret or not: not its neighbours in a list or
      // mapping (a login role's name beside a templated password is no secret).
      const reads = this.world.reads.at(-1);
      const from = reads?.length ?? 0;
      try {
        const result = renderTemplate(v, this.lookup());
        this.world.noteDerived(result, reads?.slice(from) ?? []);
        return result;
      } catch (e) {
        if (e instanceof UserError) throw e; // from a variable it named: that one's file and line
        if (e instanceof TemplateFailure) throw this.error(key, `cannot evaluate ${shorten(v)}: ${e.message}`);
        throw e;
      }
    }
    if (Array.isArray(v)) return v.map((x) => this.evaluate(key, x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.evaluate(key, x)]));
    return v;
  }

  private lookup() {
    return {
      has: (name: string) => this.has(name),
      get: (name: string) => {
        const value = this.value(name);
        this.world.readNames.add(name);
        this.world.reads.at(-1)?.push({ name, value });
        return value;
      },
    };
  }

  private error(key: string, message: string): UserError {
    const o = this.raw.origin(key);
    return new UserError(message, { ...(o ? { file: o.file, line: o.line } : {}), host: this.host, key });
  }

  private magic(name: string): unknown {
    if (!MAGIC.has(name)) return undefined;
    const w = this.world;
    const inv = w.inventory;
    const h = inv.hosts.get(this.host);
    switch (name) {
      case 'inventory_hostname': return this.host;
      case 'inventory_hostname_short': return this.host.split('.')[0];
      case 'group_names': return (h?.groups ?? []).filter((g) => g !== 'all' && g !== 'ungrouped').sort();
      case 'groups': return w.groups;
      case 'hostvars': return hostvarsProxy(w);
      case 'vars': return varsProxy(this, `vars`);
      case 'playbook_dir': return w.playbookDir;
      case 'inventory_dir': return dirname(inv.source);
      case 'inventory_file': return inv.source;
    }
    return undefined;
  }

  /** The value of a variable read by a template through `hostvars` or `vars`: recorded as read. */
  read(name: string): unknown {
    const value = this.value(name);
    this.world.readNames.add(name);
    this.world.reads.at(-1)?.push({ name, value });
    return value;
  }

  /** Names of the variables (for `vars` and `hostvars[h]` iteration). */
  keys(): string[] {
    return Object.keys(this.raw.values);
  }
}

/** Whether a value is, or holds at any depth, a template. */
function holdsTemplate(v: unknown, literals: ReadonlySet<string>): boolean {
  if (isTemplate(v)) return !literals.has(v);
  if (Array.isArray(v)) return v.some((x) => holdsTemplate(x, literals));
  if (v && typeof v === 'object') return Object.values(v).some((x) => holdsTemplate(x, literals));
  return false;
}

const shorten = (t: string) => JSON.stringify(t.length > 160 ? t.slice(0, 157) + '…' : t);

/** `vars` / `hostvars[h]`: a host's variables, each evaluated when read. */
function varsProxy(t: VarTemplar, label: string): object {
  const desc = (k: string): PropertyDescriptor => ({ enumerable: true, configurable: true, writable: false, value: t.read(k) });
  return new Proxy({} as Record<string, unknown>, {
    get: (_, k) => (typeof k !== 'string' ? undefined : t.has(k) ? t.read(k) : undefinedValue(`${label}['${k}']`)),
    has: (_, k) => typeof k === 'string' && t.has(k),
    ownKeys: () => t.keys(),
    getOwnPropertyDescriptor: (_, k) => (typeof k === 'string' && t.has(k) ? desc(k) : undefined),
    set: () => false,
  });
}

function hostvarsProxy(w: TemplateWorld): object {
  return new Proxy({} as Record<string, unknown>, {
    get: (_, h) => {
      if (typeof h !== 'string') return undefined;
      const t = w.hostTemplar(h);
      return t ? varsProxy(t, `hostvars['${h}']`) : undefinedValue(`hostvars['${h}']`);
    },
    has: (_, h) => typeof h === 'string' && w.inventory.hosts.has(h),
    ownKeys: () => [...w.inventory.hosts.keys()],
    getOwnPropertyDescriptor: (_, h) => {
      const t = typeof h === 'string' ? w.hostTemplar(h) : undefined;
      return t ? { enumerable: true, configurable: true, writable: false, value: varsProxy(t, `hostvars['${String(h)}']`) } : undefined;
    },
    set: () => false,
  });
}

/**
 * A host's merged variables with their templates evaluated, as roles get them (before their
 * validation). Each variable that cannot be evaluated adds an error (once, however many roles and
 * plays meet it) and keeps its text, so that nothing else is reported for it.
 */
export function templateVars(raw: RawVars, world: TemplateWorld, host: string, errors: UserError[], only?: (key: string) => boolean): RawVars {
  if (!Object.values(raw.values).some((v) => holdsTemplate(v, world.literals))) return raw;
  const r = new VarTemplar(world, host, raw).evaluateAll(only);
  for (const e of r.errors) if (!errors.some((x) => x.toString() === e.toString())) errors.push(e);
  const values = { ...raw.values, ...r.values };
  return {
    values,
    origin: (k) => {
      const o = raw.origin(k);
      return o && holdsTemplate(raw.values[k], world.literals) ? { ...o, layer: `${o.layer}, templated` } : o;
    },
  };
}
