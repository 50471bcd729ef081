import { stdout } from 'node:process';
import { stringify } from 'yaml';
import { UserError, UserErrors } from '../errors.ts';
import { hostLayer } from '../roles/vars.ts';
import { templateVars, TemplateWorld } from '../vars/template-vars.ts';
import { ansibleListShape, loadInventory } from '../inventory/inventory.ts';
import { requireHosts } from '../inventory/patterns.ts';
import { availableRoles, loadRole, roleSearchPath } from '../roles/loader.ts';
import type { z } from 'zod';
import { isPlainObject } from '../config/yaml-file.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { collectSecrets, looksSecret } from '../secrets/secrets.ts';

/** The schema of every role variable: where a value, at any depth, is declared secret(). */
async function varSchemas(): Promise<Map<string, z.ZodType>> {
  const schemas = new Map<string, z.ZodType>();
  const path = roleSearchPath();
  for (const name of availableRoles(path)) {
    const { def } = await loadRole(name, path);
    for (const [k, s] of Object.entries(def.vars.shape)) if (!schemas.has(k)) schemas.set(k, s as z.ZodType);
  }
  return schemas;
}

/** Strings under a key that names a secret, at any depth (a role this inventory's roles do not know may hold them). */
function addBySecretKeys(v: unknown, secrets: SecretRegistry, underSecretKey = false): void {
  if (typeof v === 'string' && underSecretKey) secrets.add(v);
  else if (Array.isArray(v)) v.forEach((x) => addBySecretKeys(x, secrets, underSecretKey));
  else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) addBySecretKeys(x, secrets, underSecretKey || looksSecret(k));
}

/**
 * `mxplay inventory`: each host's groups and merged vars (secrets masked), with --host where each
 * value came from; with --list, the JSON `ansible-inventory --list` prints (groups with their
 * children and hosts, `_meta.hostvars`), to compare the two readings of one inventory.
 */
export async function inventoryCommand(a: { inventory: string | string[]; host?: string; json: boolean; list?: boolean; secrets: SecretRegistry }): Promise<number> {
  const inv = loadInventory(a.inventory);
  // --list shows the values as written, before Jinja, as ansible-inventory --list does.
  const written = new Map([...inv.hosts.values()].map((h) => [h.name, h.vars]));
  // Jinja in values: shown evaluated, as each host gets them (their origin says "templated").
  const world = new TemplateWorld(inv, (h) => (inv.hosts.has(h) ? hostLayer(inv.hosts.get(h)!) : undefined), a.secrets, undefined, new Set([...inv.secretValues, ...(inv.literalValues ?? [])]));
  const errors: UserError[] = [];
  const evaluated = [...inv.hosts.values()].map((h) => ({ h, t: templateVars(hostLayer(h), world, h.name, errors) }));
  if (errors.length) throw new UserErrors(errors);
  for (const { h, t } of evaluated) {
    h.vars = t.values;
    h.origins = Object.fromEntries(Object.keys(h.vars).map((k) => [k, t.origin(k) ?? h.origins[k]!]));
  }
  const names = a.host ? requireHosts(inv, a.host, '--host') : [...inv.hosts.keys()];
  const schemas = await varSchemas();
  for (const v of inv.secretValues) a.secrets.add(v);
  // Every secret of every host is known before any host is printed: one host's secret can sit in another's vars.
  for (const h of inv.hosts.values()) {
    for (const [k, v] of Object.entries(h.vars)) {
      const s = schemas.get(k);
      if (s) collectSecrets(s, v, a.secrets);
    }
    addBySecretKeys(h.vars, a.secrets);
  }
  world.registerDerived();
  const masked = (vars: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(vars)) out[k] = looksSecret(k) || (typeof v === 'string' && a.secrets.has(v)) ? '********' : v;
    return out;
  };
  if (a.list) {
    stdout.write(a.secrets.mask(JSON.stringify(ansibleListShape(inv, (h) => masked(written.get(h.name) ?? h.vars)), null, 4) + '\n'));
    return 0;
  }
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const h = inv.hosts.get(n);
    if (!h) throw new UserError(`no such host`, { host: n });
    const vars: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(h.vars)) vars[k] = looksSecret(k) || (typeof v === 'string' && a.secrets.has(v)) ? '********' : v;
    out[n] = {
      groups: h.groups,
      vars,
      ...(a.host ? { origins: Object.fromEntries(Object.entries(h.origins).map(([k, o]) => [k, `${o.file}${o.line ? `:${o.line}` : ''} (${o.layer})`])) } : {}),
    };
  }
  stdout.write(a.secrets.mask(a.json ? JSON.stringify(out, null, 2) + '\n' : stringify(out)));
  return 0;
}
