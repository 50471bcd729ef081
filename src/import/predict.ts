// What the first run will make of Synapse's configuration: the roles built (no connection) with the
// imported variables, their conf.d fragments merged with the files that stay, as Synapse merges
// them, and compared key by key with what Synapse reads today.
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { buildWork } from '../engine/build.ts';
import { UserError, UserErrors } from '../errors.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { Playbook } from '../playbook/playbook.ts';
import { parseExtraVars } from '../roles/vars.ts';
import type { Change } from '../resources/types.ts';
import { SecretRegistry } from '../secrets/registry.ts';
import { FoundSecret, isRecord, type SynapseFile } from './model.ts';
import { CONF_D } from './synapse.ts';

/** The vars with each found secret as its value (a stand-in where the host had none to read). */
export function plainVars(v: unknown): unknown {
  if (v instanceof FoundSecret) return v.value ?? `unknown-${randomBytes(12).toString('hex')}`;
  if (Array.isArray(v)) return v.map(plainVars);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainVars(x)]));
  return v;
}

function stringsOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => stringsOf(x, out));
  else if (isRecord(v)) Object.values(v).forEach((x) => stringsOf(x, out));
  return out;
}

export interface Prediction {
  /** conf.d files the roles write (their top-level data), or null for one they remove. */
  roleFiles: Map<string, Record<string, unknown> | null>;
  /** Every top-level key the roles' fragments write. */
  owned: Set<string>;
  /** The build's input errors: the imported vars do not make a valid run. */
  errors: string[];
}

/** The roles built for this host alone, with the inventory's other vars (connection, master secret). */
export async function predictRoles(inv: Inventory, host: string, roles: string[], vars: Record<string, unknown>, dir: string): Promise<Prediction> {
  const h = inv.hosts.get(host)!;
  const values = { ...h.vars, ...(plainVars(vars) as Record<string, unknown>) };
  // Secrets the host had none of are derived by the run from mxplay_master_secret: any stand-in predicts their shape.
  if (typeof values.mxplay_master_secret !== 'string') values.mxplay_master_secret = randomBytes(24).toString('hex');
  // The host's text is taken as it is (the file has it as !unsafe where it holds Jinja's markers).
  const literals = [...(inv.literalValues ?? []), ...stringsOf(plainVars(vars))];
  const one: Inventory = { ...inv, hosts: new Map([[host, { ...h, vars: values }]]), groups: new Map([['all', new Set([host])]]), secretValues: [], literalValues: literals };
  const pb: Playbook = {
    file: '(import)',
    dir,
    plays: [{ index: 0, name: 'import', hosts: host, vars: {}, roles: roles.map((role) => ({ role, vars: {}, tags: [] })), tasks: [], handlers: [], become: undefined, serial: undefined, maxFailPercentage: 100, tags: [] }],
    secretValues: [],
  };
  const roleFiles = new Map<string, Record<string, unknown> | null>();
  try {
    const [work] = await buildWork(pb, one, { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
    for (const item of work?.plays.flatMap((p) => p.items) ?? []) {
      const r = item.resource;
      if (!r.id.startsWith(CONF_D) || (r.type !== 'yaml' && r.type !== 'file')) continue;
      const planned = r.plan({ kind: 'none' }) as Change | null;
      roleFiles.set(r.id, planned?.diff?.after ? ((parse(planned.diff.after, { version: '1.1' }) as Record<string, unknown> | null) ?? {}) : null);
    }
  } catch (e) {
    if (e instanceof UserErrors) return { roleFiles, owned: new Set(), errors: e.errors.map(String) };
    if (e instanceof UserError) return { roleFiles, owned: new Set(), errors: [String(e)] };
    throw e;
  }
  const owned = new Set([...roleFiles.values()].flatMap((d) => (d ? Object.keys(d) : [])));
  return { roleFiles, owned, errors: [] };
}

/** Synapse's shallow merge: homeserver.yaml first, then conf.d in name order; a later file's key wins. */
export function mergeAfterRun(files: SynapseFile[], roleFiles: Map<string, Record<string, unknown> | null>, replaced: Set<string>): Record<string, unknown> {
  const byPath = new Map(files.filter((f) => !replaced.has(f.path)).map((f) => [f.path, f.data]));
  for (const [p, d] of roleFiles) {
    if (d) byPath.set(p, d);
    else byPath.delete(p);
  }
  const paths = [...byPath.keys()].sort((a, b) => (a.startsWith(CONF_D) === b.startsWith(CONF_D) ? (a < b ? -1 : a > b ? 1 : 0) : a.startsWith(CONF_D) ? 1 : -1));
  const out: Record<string, unknown> = {};
  for (const p of paths) Object.assign(out, byPath.get(p));
  return out;
}

/** Same data whatever the key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** Top-level keys whose value differs (added and removed keys too). */
export function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => canonical(before[k]) !== canonical(after[k])).sort();
}
