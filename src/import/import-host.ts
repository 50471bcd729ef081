// mxplay import: read a running host, and say in role variables what it runs.
import { UserError } from '../errors.ts';
import { pipedFrom } from '../resources/sh.ts';
import type { Connection } from '../transport/connection.ts';
import { looksSecret } from '../secrets/secrets.ts';
import { importCoturn } from './coturn.ts';
import { importNginx } from './nginx.ts';
import { importPostgres } from './postgres.ts';
import { changedKeys, mergeAfterRun, predictRoles } from './predict.ts';
import { READ_HOST_PY } from './read-host.ts';
import { CONF_D, importSynapse, placeHandWritten, sourceOf } from './synapse.ts';
import { FoundSecret, isRecord, type HostSnapshot, type Kept, type NotImported, type RoleImport } from './model.ts';
import type { Inventory } from '../inventory/inventory.ts';
import { MXPLAY_SYNAPSE_KEYS } from '../roles/synapse-keys.ts';

/** The roles an import can write, in the order a play runs them (the database before Synapse, the proxy last). */
export const IMPORTABLE = ['postgres', 'synapse', 'coturn', 'nginx'] as const;
export type ImportableRole = (typeof IMPORTABLE)[number];

export interface ImportResult {
  host: string;
  roles: ImportableRole[];
  imports: RoleImport[];
  synapseChanges: { key: string; reason: string }[];
  kept: Kept[];
  notImported: NotImported[];
  replacedFiles: string[];
  /** Every secret value read: masked in all output. */
  secretValues: string[];
}

/** Reads the host: one round trip, Synapse's own interpreter (matrix.org's virtualenv, else python3). */
export async function readHost(conn: Connection): Promise<HostSnapshot> {
  const script = `PY=/opt/venvs/matrix-synapse/bin/python; [ -x "$PY" ] || PY=python3\n${pipedFrom(READ_HOST_PY, '"$PY" -')}\n`;
  const r = await conn.run(script);
  if (r.code !== 0) throw new UserError(`reading the host failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`, { host: conn.host });
  try {
    return JSON.parse(r.stdout) as HostSnapshot;
  } catch {
    throw new UserError(`reading the host gave no JSON: ${r.stdout.slice(0, 200)}`, { host: conn.host });
  }
}

/** What the host runs, of the importable roles. */
export function detectRoles(s: HostSnapshot): ImportableRole[] {
  const synapse = !!s.synapse && !('error' in s.synapse);
  // nginx's Matrix virtual hosts are found by the names Synapse's configuration gives.
  return IMPORTABLE.filter((r) => (r === 'postgres' ? s.packages.postgresql : r === 'synapse' ? synapse : r === 'coturn' ? s.packages.coturn && !!s.coturn : s.packages.nginx && synapse));
}

/** Secret-looking values in kept Synapse settings stay secrets in the inventory (vault or !env). */
function guardSecrets(v: unknown, from: string, key = ''): unknown {
  if (typeof v === 'string' && looksSecret(key)) return new FoundSecret(v, from);
  if (Array.isArray(v)) return v.map((x) => guardSecrets(x, from, key));
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, guardSecrets(x, `${from}.${k}`, k)]));
  return v;
}

function secretValuesOf(v: unknown, out: string[] = []): string[] {
  if (v instanceof FoundSecret) {
    if (v.value) out.push(v.value);
  } else if (Array.isArray(v)) v.forEach((x) => secretValuesOf(x, out));
  else if (isRecord(v)) Object.values(v).forEach((x) => secretValuesOf(x, out));
  return out;
}

export async function importHost(s: HostSnapshot, inv: Inventory, host: string, roles: ImportableRole[], dir: string): Promise<ImportResult> {
  const imports: RoleImport[] = [];
  const notImported: NotImported[] = [];
  const syn = s.synapse && !('error' in s.synapse) ? s.synapse : undefined;
  if (s.synapse && 'error' in s.synapse && roles.includes('synapse')) {
    throw new UserError(`Synapse's configuration could not be read: ${s.synapse.error}`, { host, role: 'synapse' });
  }
  if (s.packages.apache2) notImported.push({ file: '/etc/apache2', why: "apache2 is installed: the import reads nginx only; set the apache role's variables (the same proxy_* as nginx) by hand" });
  if (syn?.workers.length) notImported.push({ file: '/etc/matrix-synapse/workers', why: `workers (${syn.workers.join(', ')}): the import reads a single Synapse process; declare synapse_workers (roles/synapse/README.md)` });

  let synapse: RoleImport | undefined;
  if (roles.includes('postgres')) {
    if (!s.postgres || 'error' in s.postgres) throw new UserError(`PostgreSQL could not be read: ${s.postgres && 'error' in s.postgres ? s.postgres.error : 'not installed'}`, { host, role: 'postgres' });
    const args = isRecord(syn?.merged.database) && isRecord(syn.merged.database.args) ? syn.merged.database.args : {};
    const local = !args.host || ['localhost', '127.0.0.1', '::1'].includes(String(args.host));
    imports.push(importPostgres(s.postgres, local ? { name: String(args.database ?? args.dbname ?? ''), user: String(args.user ?? '') } : {}));
  }
  if (roles.includes('synapse') && syn) {
    synapse = importSynapse(syn.files, syn.merged, s.packages, host);
    imports.push(synapse);
  }
  if (roles.includes('coturn')) {
    if (!s.coturn) throw new UserError('coturn: /etc/turnserver.conf is not there', { host, role: 'coturn' });
    imports.push(importCoturn(s.coturn.path, s.coturn.text, syn?.merged, (k) => (syn ? sourceOf(syn.files, k) : '')));
  }
  if (roles.includes('nginx')) {
    if (!s.nginx) throw new UserError('nginx is not installed', { host, role: 'nginx' });
    if (!syn) throw new UserError("nginx: the Matrix virtual hosts are found by the names in Synapse's configuration, which could not be read", { host, role: 'nginx' });
    const m = syn?.merged ?? {};
    const matrixHost = typeof m.public_baseurl === 'string' ? new URL(m.public_baseurl).hostname : String(m.server_name ?? '');
    imports.push(importNginx(s.nginx, { serverName: String(m.server_name ?? ''), matrixHost, httpPort: Number((synapse?.vars.synapse_http_port as number | undefined) ?? 8008) }));
  }

  const allVars = () => Object.assign({}, ...imports.map((r) => r.vars)) as Record<string, unknown>;
  const synapseChanges: { key: string; reason: string }[] = [];
  if (synapse && syn) {
    // First the roles alone, for the keys they own; then with what stays of the hand-written files.
    const first = await predictRoles(inv, host, roles, allVars(), dir);
    if (first.errors.length) notImported.push(...first.errors.map((e) => ({ file: 'the imported variables', why: `a run would refuse them: ${e}` })));
    const placed = placeHandWritten(syn.files, syn.merged, first.owned, new Set(first.roleFiles.keys()), new Map(Object.entries(MXPLAY_SYNAPSE_KEYS)));
    if (Object.keys(placed.extra).length) {
      synapse.vars.synapse_extra_config = Object.fromEntries(Object.entries(placed.extra).map(([k, v]) => [k, guardSecrets(v, `${sourceOf(syn.files, k)}: ${k}`, k)]));
    }
    if (placed.replacedFiles.length) synapse.vars.synapse_replaced_files = placed.replacedFiles.map((p) => p.slice(CONF_D.length));
    synapse.kept.push(...placed.kept);
    synapse.notImported.push(...placed.notImported);
    synapse.replacedFiles.push(...placed.replacedFiles);
    const final = await predictRoles(inv, host, roles, allVars(), dir);
    if (final.errors.length && !first.errors.length) notImported.push(...final.errors.map((e) => ({ file: 'the imported variables', why: `a run would refuse them: ${e}` })));
    if (!final.errors.length) {
      const after = mergeAfterRun(syn.files, final.roleFiles, new Set(placed.replacedFiles));
      for (const key of changedKeys(syn.merged, after)) {
        const by = [...final.roleFiles].filter(([, d]) => d && key in d).map(([p]) => p).pop();
        synapseChanges.push({ key, reason: by ? `the roles write it in ${by}` : `removed with ${sourceOf(syn.files, key)}` });
      }
    }
  }
  return {
    host,
    roles,
    imports,
    synapseChanges,
    kept: imports.flatMap((r) => r.kept),
    notImported: [...notImported, ...imports.flatMap((r) => r.notImported)],
    replacedFiles: imports.flatMap((r) => r.replacedFiles),
    secretValues: secretValuesOf(imports.map((r) => r.vars)),
  };
}
