// Synapse's configuration, as Synapse itself merged it, read back into the synapse role's variables.
import { UserError } from '../errors.ts';
import { FoundSecret, isRecord, type Kept, type NotImported, type RoleImport, type SynapseFile } from './model.ts';

export const CONF_D = '/etc/matrix-synapse/conf.d/';
const HOMESERVER_YAML = '/etc/matrix-synapse/homeserver.yaml';

/** The file of the fragments where a top-level key's effective value comes from: the last that sets it. */
export function sourceOf(files: SynapseFile[], key: string): string {
  return [...files].reverse().find((f) => key in f.data)?.path ?? HOMESERVER_YAML;
}

const where = (files: SynapseFile[], key: string, sub?: string) => `${sourceOf(files, key)}: ${key}${sub ? `.${sub}` : ''}`;

function listenerNames(l: Record<string, unknown>): string[] {
  const rs = Array.isArray(l.resources) ? l.resources : [];
  return [...new Set(rs.flatMap((r) => (isRecord(r) && Array.isArray(r.names) ? r.names.map(String) : [])))];
}

/** The synapse role's variables from the merged configuration: what they can say, as Synapse reads it. */
export function importSynapse(files: SynapseFile[], m: Record<string, unknown>, packages: Record<string, boolean>, host: string): RoleImport {
  const vars: Record<string, unknown> = {};
  const notImported: NotImported[] = [];
  const secret = (key: string, varName: string) => {
    if (typeof m[key] === 'string' && m[key]) vars[varName] = new FoundSecret(m[key] as string, where(files, key));
  };

  const db = isRecord(m.database) ? m.database : undefined;
  if (!db || db.name !== 'psycopg2') {
    // Importing would point Synapse at an empty PostgreSQL database: every user and room would be gone.
    throw new UserError(
      `Synapse on ${host} uses ${db ? String(db.name) : 'its default SQLite database'}: the roles run it on PostgreSQL. ` +
        'Move it first (synapse_port_db, see Synapse\'s docs/postgres.md), then import; nothing was written',
      { host, role: 'synapse', key: 'database' },
    );
  }
  vars.synapse_package_source = packages['matrix-synapse'] ? 'debian' : 'matrix.org';
  if (vars.synapse_package_source === 'matrix.org') {
    notImported.push({ file: '/etc/apt/sources.list.d', why: "matrix.org's package: set synapse_matrix_org_keyring to the path of its archive key on this machine" });
  }
  if (typeof m.server_name === 'string') vars.synapse_server_name = m.server_name;
  if (typeof m.public_baseurl === 'string') vars.synapse_public_baseurl = m.public_baseurl;
  else notImported.push({ file: HOMESERVER_YAML, key: 'public_baseurl', why: 'not set on the host: set synapse_public_baseurl (the proxy serves clients there)' });
  if (m.report_stats !== undefined) vars.synapse_report_stats = m.report_stats === true;

  const listeners = Array.isArray(m.listeners) ? m.listeners.filter(isRecord) : [];
  const client = listeners.find((l) => (l.type ?? 'http') === 'http' && listenerNames(l).includes('client'));
  if (client) {
    if (typeof client.port === 'number') vars.synapse_http_port = client.port;
    if (Array.isArray(client.bind_addresses)) vars.synapse_bind_addresses = client.bind_addresses.map(String);
    else if (typeof client.bind_address === 'string') vars.synapse_bind_addresses = [client.bind_address];
    vars.synapse_listener_resources = listenerNames(client);
  }

  const args = isRecord(db.args) ? db.args : {};
  const dbWhere = sourceOf(files, 'database');
  if (typeof args.host === 'string') vars.synapse_db_host = args.host;
  if (typeof args.port === 'number') vars.synapse_db_port = args.port;
  const dbName = args.database ?? args.dbname;
  if (typeof dbName === 'string') vars.synapse_db_name = dbName;
  if (typeof args.user === 'string') vars.synapse_db_user = args.user;
  if (typeof args.password === 'string') vars.synapse_db_password = new FoundSecret(args.password, `${dbWhere}: database.args.password`);
  secret('registration_shared_secret', 'synapse_registration_shared_secret');
  secret('macaroon_secret_key', 'synapse_macaroon_secret_key');
  secret('form_secret', 'synapse_form_secret');

  if (m.max_upload_size !== undefined) vars.synapse_max_upload_size = String(m.max_upload_size);
  if (typeof m.media_store_path === 'string') vars.synapse_media_store_path = m.media_store_path;
  if (m.url_preview_enabled === true) {
    vars.synapse_url_previews = true;
    if (Array.isArray(m.url_preview_ip_range_blacklist)) vars.synapse_url_preview_ip_range_blacklist = m.url_preview_ip_range_blacklist.map(String);
  }
  const mode = registrationMode(m);
  if (mode) vars.synapse_registration = mode;
  else notImported.push({ file: sourceOf(files, 'enable_registration'), key: 'enable_registration', why: 'open registration without a token or an email check: the synapse role offers closed, invite-token or open-email; the run sets invite-token (the default) unless synapse_registration says otherwise' });
  if (isRecord(m.presence) && typeof m.presence.enabled === 'boolean') vars.synapse_presence = m.presence.enabled;

  const pw = isRecord(m.password_config) ? m.password_config : undefined;
  if (pw && typeof pw.localdb_enabled === 'boolean') vars.synapse_password_localdb_enabled = pw.localdb_enabled;
  if (pw && isRecord(pw.policy) && pw.policy.enabled === true) {
    const policy: Record<string, unknown> = {};
    for (const k of ['minimum_length', 'require_digit', 'require_symbol', 'require_lowercase', 'require_uppercase']) if (k in pw.policy) policy[k] = pw.policy[k];
    vars.synapse_password_policy = policy;
  }
  if (m.limit_usage_by_mau === true && typeof m.max_mau_value === 'number') vars.synapse_mau_limit = m.max_mau_value;
  for (const k of ['rc_login', 'rc_message', 'rc_registration', 'rc_joins', 'rc_room_creation']) if (isRecord(m[k])) vars[`synapse_${k}`] = m[k];
  if (Array.isArray(m.ip_range_whitelist)) vars.synapse_ip_range_whitelist = m.ip_range_whitelist.map(String);
  if (Array.isArray(m.trusted_key_servers)) vars.synapse_trusted_key_servers = m.trusted_key_servers;

  return { role: 'synapse', vars, kept: [], notImported, replacedFiles: [] };
}

function registrationMode(m: Record<string, unknown>): 'closed' | 'invite-token' | 'open-email' | undefined {
  if (m.enable_registration !== true) return 'closed';
  if (m.registration_requires_token === true) return 'invite-token';
  if (Array.isArray(m.registrations_require_3pid) && m.registrations_require_3pid.includes('email')) return 'open-email';
  return undefined;
}

/**
 * Where each hand-written setting goes, once the roles' fragments are known (`owned`: the keys
 * they write, `roleFiles`: their paths). A hand-written conf.d file holding a key a role now
 * writes is replaced (removed in the run's checked change); its other keys move to
 * synapse_extra_config. Files holding none stay as they are, as does homeserver.yaml.
 * `roleKeys`: every key an mxplay role may write, with the variable that sets it: synapse_extra_config
 * refuses those, so one the imported variables do not write is reported.
 */
export function placeHandWritten(
  files: SynapseFile[],
  merged: Record<string, unknown>,
  owned: Set<string>,
  roleFiles: Set<string>,
  roleKeys: ReadonlyMap<string, string>,
): { replacedFiles: string[]; extra: Record<string, unknown>; kept: Kept[]; notImported: NotImported[] } {
  const replacedFiles: string[] = [];
  const extra: Record<string, unknown> = {};
  const kept: Kept[] = [];
  const notImported: NotImported[] = [];
  for (const f of files) {
    const keys = Object.keys(f.data);
    const inConfD = f.path.startsWith(CONF_D);
    const replaced = inConfD && !roleFiles.has(f.path) && keys.some((k) => owned.has(k));
    if (replaced) replacedFiles.push(f.path);
    for (const k of keys) {
      if (owned.has(k)) continue;
      // A later file sets it too: that one is where its effective value is kept.
      if (sourceOf(files, k) !== f.path) continue;
      const setBy = roleKeys.get(k);
      if (roleFiles.has(f.path)) continue;
      if (!replaced) kept.push({ file: f.path, key: k, via: 'left in place' });
      else if (setBy) notImported.push({ file: f.path, key: k, why: `removed with ${f.path}: mxplay's roles set it (${setBy}), and the imported variables do not; set them if it is needed` });
      else {
        extra[k] = merged[k];
        kept.push({ file: f.path, key: k, via: 'synapse_extra_config' });
      }
    }
  }
  return { replacedFiles, extra, kept, notImported };
}
