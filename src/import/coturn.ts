// /etc/turnserver.conf read back into the coturn role's variables; Synapse's turn_* keys too.
import { FoundSecret, type Kept, type NotImported, type RoleImport } from './model.ts';

interface Option {
  name: string;
  value: string | undefined;
  line: number;
}

/** coturn's own reading: `name=value`, `name value` or a bare flag per line, `#` comments, optional leading `--`. */
export function turnserverOptions(text: string): Option[] {
  const out: Option[] = [];
  text.split('\n').forEach((raw, i) => {
    const s = raw.trim();
    if (!s || s.startsWith('#')) return;
    const m = /^-{0,2}([A-Za-z0-9-]+)\s*(?:[=\s]\s*(.*))?$/.exec(s);
    if (!m) return out.push({ name: s, value: undefined, line: i + 1 });
    let value = m[2]?.trim();
    if (value !== undefined && /^".*"$/.test(value)) value = value.slice(1, -1);
    out.push({ name: m[1]!.toLowerCase(), value, line: i + 1 });
  });
  return out;
}

/** Options the role's template writes whatever its variables say. */
const ALWAYS = new Set(['fingerprint', 'use-auth-secret', 'no-tcp-relay', 'no-multicast-peers', 'no-cli', 'no-software-attribute', 'syslog', 'no-tls']);
const NUMBERS: Record<string, string> = {
  'listening-port': 'coturn_listening_port',
  'tls-listening-port': 'coturn_tls_listening_port',
  'min-port': 'coturn_min_port',
  'max-port': 'coturn_max_port',
  'user-quota': 'coturn_user_quota',
  'total-quota': 'coturn_total_quota',
};
const STRINGS: Record<string, string> = { realm: 'coturn_realm', 'external-ip': 'coturn_external_ip', cert: 'coturn_tls_cert', pkey: 'coturn_tls_key' };
const LISTS: Record<string, string> = { 'listening-ip': 'coturn_listening_ips', 'denied-peer-ip': 'coturn_denied_peer_ips', 'allowed-peer-ip': 'coturn_allowed_peer_ips' };
/** Options whose lines hold credentials: never copied into an inventory in clear. */
const CREDENTIALS = new Set(['user', 'static-auth-secret', 'secret', 'cli-password', 'psql-userdb', 'mysql-userdb', 'mongo-userdb', 'redis-userdb', 'redis-statsdb']);

export function importCoturn(path: string, text: string, synapse: Record<string, unknown> | undefined, synapseFileOf: (key: string) => string): RoleImport {
  const vars: Record<string, unknown> = {};
  const kept: Kept[] = [];
  const notImported: NotImported[] = [];
  const extra: string[] = [];
  const lists: Record<string, string[]> = {};
  let authSecret = false;
  for (const o of turnserverOptions(text)) {
    if (o.name === 'static-auth-secret' && o.value) vars.coturn_shared_secret = new FoundSecret(o.value, `${path}: static-auth-secret (line ${o.line})`);
    else if (o.name === 'use-auth-secret') authSecret = true;
    else if (ALWAYS.has(o.name)) continue;
    else if (o.name in NUMBERS && o.value !== undefined && /^\d+$/.test(o.value)) vars[NUMBERS[o.name]!] = Number(o.value);
    else if (o.name in STRINGS && o.value !== undefined) vars[STRINGS[o.name]!] = o.value;
    else if (o.name in LISTS && o.value !== undefined) (lists[LISTS[o.name]!] ??= []).push(o.value);
    else if (CREDENTIALS.has(o.name)) notImported.push({ file: path, line: o.line, key: o.name, why: `${o.name} holds credentials the role does not manage (it uses Synapse's shared secret): not copied; TURN users of this kind stop working after the run` });
    else {
      extra.push(o.value === undefined ? o.name : `${o.name}=${o.value}`);
      kept.push({ file: path, line: o.line, key: o.name, via: 'coturn_extra_options' });
    }
  }
  Object.assign(vars, lists);
  // The role's default denies private networks; a file without any denied-peer-ip denies none.
  if (!lists.coturn_denied_peer_ips) vars.coturn_denied_peer_ips = [];
  if (extra.length) vars.coturn_extra_options = extra;
  if (!authSecret) notImported.push({ file: path, key: 'use-auth-secret', why: 'coturn does not use a shared secret with Synapse here: the role configures use-auth-secret (Synapse hands out time-limited TURN credentials)' });

  if (synapse && Array.isArray(synapse.turn_uris)) vars.coturn_turn_uris = synapse.turn_uris.map(String);
  if (synapse && synapse.turn_user_lifetime !== undefined) {
    const l = synapse.turn_user_lifetime;
    vars.coturn_turn_user_lifetime = typeof l === 'number' ? `${l}ms` : String(l);
  }
  if (synapse && typeof synapse.turn_allow_guests === 'boolean') vars.coturn_turn_allow_guests = synapse.turn_allow_guests;
  const hsSecret = synapse?.turn_shared_secret;
  const found = vars.coturn_shared_secret as FoundSecret | undefined;
  if (typeof hsSecret === 'string' && found && hsSecret !== found.value) {
    notImported.push({ file: synapseFileOf('turn_shared_secret'), key: 'turn_shared_secret', why: `differs from ${path}'s static-auth-secret: TURN credentials from Synapse fail today; the run makes them one (coturn's)` });
  }
  if (!synapse?.turn_uris) vars.coturn_synapse_fragment = false;
  return { role: 'coturn', vars, kept, notImported, replacedFiles: [] };
}
