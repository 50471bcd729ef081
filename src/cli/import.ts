import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { stdout } from 'node:process';
import { UserError, UserErrors } from '../errors.ts';
import { loadInventory, resolveInventoryPath } from '../inventory/inventory.ts';
import { hostLayer } from '../roles/vars.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { accessDefaults, prepareAccess, type AccessOptions } from '../transport/credentials.ts';
import { connectionParams } from '../transport/params.ts';
import { openConnection } from '../transport/open.ts';
import type { Connection, HostKeyChecking } from '../transport/connection.ts';
import { templateVars, TemplateWorld } from '../vars/template-vars.ts';
import { detectRoles, IMPORTABLE, importHost, readHost, type ImportableRole, type ImportResult } from '../import/import-host.ts';
import { hostVarsDocument, type SecretEntry } from '../import/write.ts';
import { importReport, type ImportReportJson } from '../import/report.ts';

export interface ImportArgs {
  inventory: string | string[];
  host: string;
  roles?: string[];
  force: boolean;
  reportJson?: string;
  hostKeyChecking?: HostKeyChecking;
  access?: AccessOptions;
  secrets: SecretRegistry;
}

/** Where host_vars go: beside the inventory file, or in the inventory folder (the first -i). */
export function hostVarsPath(source: string, host: string): string {
  const dir = existsSync(source) && statSync(source).isDirectory() ? source : dirname(source);
  return join(dir, 'host_vars', `${host}.yml`);
}

export async function importCommand(a: ImportArgs): Promise<number> {
  // The file the import writes, beside the first inventory source (found before reading the
  // inventory: with --force, the file it replaces is not read, its vault values included).
  const target = hostVarsPath(resolveInventoryPath(typeof a.inventory === 'string' ? a.inventory : a.inventory[0]!), a.host);
  const others = [target.replace(/\.yml$/, '.yaml'), target.replace(/\.yml$/, '.json'), target.replace(/\.yml$/, '')].filter((p) => existsSync(p));
  if (others.length) throw new UserError(`${others[0]} exists: the import writes ${target}, and a run would read both; move it away first (nothing was changed)`, { host: a.host });
  if (existsSync(target) && !a.force) throw new UserError(`${target} exists: the import writes a new file (--force replaces it); nothing was changed`, { host: a.host });
  const inv = a.force ? loadInventory(a.inventory, process.cwd(), { skipVarsFiles: new Set([target]) }) : loadInventory(a.inventory);
  const h = inv.hosts.get(a.host);
  if (!h) throw new UserError(`--host ${a.host}: no such host in ${inv.source} (hosts: ${[...inv.hosts.keys()].join(', ') || 'none'})`);
  const roles = a.roles?.map((r) => {
    if (!(IMPORTABLE as readonly string[]).includes(r)) throw new UserError(`--roles: ${r} cannot be imported (the import writes ${IMPORTABLE.join(', ')})`);
    return r as ImportableRole;
  });
  // The connection as a run makes it: the host's templated ansible_* values, then the command line's.
  const world = new TemplateWorld(inv, (n) => (inv.hosts.has(n) ? hostLayer(inv.hosts.get(n)!) : undefined), a.secrets, undefined, new Set([...inv.secretValues, ...(inv.literalValues ?? [])]));
  const errors: UserError[] = [];
  h.vars = templateVars(hostLayer(h), world, h.name, errors).values;
  if (errors.length) throw new UserErrors(errors);
  for (const v of inv.secretValues) a.secrets.add(v);
  const params = connectionParams(h, { ...(await accessDefaults(a.access, a.secrets)), ...(a.hostKeyChecking ? { hostKeyChecking: a.hostKeyChecking } : {}) });
  await prepareAccess([params], a.secrets);
  let conn: Connection;
  try {
    conn = await openConnection(h.name, params);
  } catch (e) {
    // Unreachable, a refused key, a host key that does not match: said as a run says it, nothing written.
    throw new UserError(`unreachable: ${(e as Error).message}; nothing was written`, { host: a.host });
  }
  let result: ImportResult;
  try {
    const snapshot = await readHost(conn).catch((e: Error) => {
      throw e instanceof UserError ? e : new UserError(`lost while reading the host: ${e.message}; nothing was written`, { host: a.host });
    });
    result = await importHost(snapshot, inv, a.host, roles ?? detectRoles(snapshot), dirname(target));
  } finally {
    await conn.close().catch(() => {});
  }
  for (const v of result.secretValues) a.secrets.add(v);
  if (!result.roles.length) throw new UserError(`nothing to import: ${a.host} runs none of ${IMPORTABLE.join(', ')}`, { host: a.host });

  const shown = relative(process.cwd(), target) || target;
  const { text, secrets } = hostVarsDocument(a.host, result.imports, (found) => [
    `Written by mxplay import from ${a.host}: the roles ${result.roles.join(', ')}.`,
    'Secrets found on the host are vault values or !env references (a run refuses an unset one), never in clear.',
    ...secretLines(found),
  ]);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text, { mode: 0o600 });
  const json: ImportReportJson = {
    host: a.host,
    file: target,
    roles: result.roles,
    secrets: secrets.map((s) => ({ var: s.var, from: s.from, as: s.as })),
    synapseChanges: result.synapseChanges,
    kept: result.kept,
    notImported: result.notImported,
    replacedFiles: result.replacedFiles,
  };
  if (a.reportJson) writeFileSync(a.reportJson, a.secrets.mask(JSON.stringify(json, null, 2)) + '\n');
  stdout.write(a.secrets.mask(importReport(json, shown, inv.source)));
  return 0;
}

/** Where each secret came from, as comments at the top of the file (sources only, never values). */
function secretLines(s: SecretEntry[]): string[] {
  return s.length ? ['Secrets read on the host:', ...s.map((e) => `  ${e.var}: ${e.from}${e.as === 'vault' ? '' : ` (set ${e.as})`}`)] : [];
}
