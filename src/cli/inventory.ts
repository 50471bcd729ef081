import { stdout } from 'node:process';
import { stringify } from 'yaml';
import { UserError } from '../errors.ts';
import { loadInventory } from '../inventory/inventory.ts';
import { requireHosts } from '../inventory/patterns.ts';
import { availableRoles, loadRole, roleSearchPath } from '../roles/loader.ts';
import { looksSecret, mask } from '../secrets/secrets.ts';
import { describeVars } from './roles.ts';

/** Keys any role declares as secret(): masked by name, since this command validates no role. */
async function secretKeys(): Promise<Set<string>> {
  const keys = new Set<string>();
  const path = roleSearchPath();
  for (const name of availableRoles(path)) {
    const { def } = await loadRole(name, path);
    for (const v of describeVars(def.vars)) if (v.secret) keys.add(v.name);
  }
  return keys;
}

export async function inventoryCommand(a: { inventory: string; host?: string; json: boolean }): Promise<number> {
  const inv = loadInventory(a.inventory);
  const names = a.host ? requireHosts(inv, a.host, '--host') : [...inv.hosts.keys()];
  const secret = await secretKeys();
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const h = inv.hosts.get(n);
    if (!h) throw new UserError(`no such host`, { host: n });
    const vars: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(h.vars)) vars[k] = secret.has(k) || looksSecret(k) ? '********' : v;
    out[n] = {
      groups: h.groups,
      vars,
      ...(a.host ? { origins: Object.fromEntries(Object.entries(h.origins).map(([k, o]) => [k, `${o.file}${o.line ? `:${o.line}` : ''} (${o.layer})`])) } : {}),
    };
  }
  stdout.write(mask(a.json ? JSON.stringify(out, null, 2) + '\n' : stringify(out)));
  return 0;
}
