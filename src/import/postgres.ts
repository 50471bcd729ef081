// PostgreSQL's databases, login roles and settings read back into the postgres role's variables.
import { FoundSecret, type HostSnapshot, type NotImported, type RoleImport } from './model.ts';

type Pg = Extract<NonNullable<HostSnapshot['postgres']>, { databases: unknown }>;

/** pg_hba.conf lines of Debian's own postgresql package: everything else was written by hand. */
function debianDefault(r: Record<string, unknown>): boolean {
  const users = JSON.stringify(r.user_name);
  const dbs = JSON.stringify(r.database);
  if (r.type === 'local') return r.auth_method === 'peer' && (users === '["postgres"]' || users === '["all"]');
  return r.type === 'host' && users === '["all"]' && (dbs === '["all"]' || dbs === '["replication"]') && ['127.0.0.1', '::1'].includes(String(r.address));
}

/** The synapse role makes its own database and user (synapse_db_*): those are left out here. */
export function importPostgres(pg: Pg, synapseDb: { name?: string; user?: string }): RoleImport {
  const vars: Record<string, unknown> = {};
  const notImported: NotImported[] = [];
  const users = pg.users.filter((u) => u !== synapseDb.user);
  if (users.length) {
    // PostgreSQL keeps only a hash: the password is the user's to give (the run sets it).
    vars.postgres_users = users.map((name) => ({ name, password: new FoundSecret(undefined, `PostgreSQL keeps only a hash of ${name}'s password: give it (or a new one, which the run sets)`) }));
  }
  const dbs = pg.databases.filter((d) => d.name !== synapseDb.name);
  if (dbs.length) vars.postgres_databases = dbs.map((d) => ({ name: d.name, owner: d.owner, encoding: d.encoding, lc_collate: d.lc_collate, lc_ctype: d.lc_ctype }));
  if (pg.listen_addresses && pg.listen_addresses !== 'localhost') vars.postgres_listen_addresses = pg.listen_addresses;
  const kept = pg.hba
    .filter((r) => !r.error && !debianDefault(r))
    .map((r) => ({ file: String(r.file_name ?? 'pg_hba.conf'), line: Number(r.line_number), via: 'left in place (the role keeps its own entries in a block of their own)' }));
  return { role: 'postgres', vars, kept, notImported, replacedFiles: [] };
}
