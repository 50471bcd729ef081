// A homeserver built BY HAND on a fresh lab host, as an administrator following the Fediversity
// Synapse how-to would (no mxplay): Debian's packages, conf.d/ fragments of the admin's own names
// written with `cat`, PostgreSQL with C collation, nginx with .well-known and a lab-CA certificate,
// coturn; then users (Synapse's registration tool), rooms and messages (the client API, from this
// machine through nginx). It is what `mxplay import` is meant to adopt.
import { randomBytes } from 'node:crypto';
import { issueCertificate, labCa } from '../../lab/ca.ts';
import type { LabFixture } from '../../lab/index.ts';
import { q } from '../../../src/resources/sh.ts';
import { httpsByName, type JsonAnswer } from './https.ts';
import { eventually } from './matrix.ts';

export const SYNAPSE_CONF = '/etc/matrix-synapse/homeserver.yaml';
export const SYNAPSE_CONF_D = '/etc/matrix-synapse/conf.d';
/** A setting no role variable covers, with quotes, a '#' and ': ' (it must survive YAML both ways). */
export const ADMIN_CONTACT = `mailto:admin@example.org?subject=Matrix%20help #1: it's "down"`;
/** The hand-written nginx directive no role variable covers. */
export const HANDMADE_HEADER = 'add_header X-Handmade "yes" always;';
/** The coturn option the role's template does not write. */
export const COTURN_EXTRA = 'stale-nonce=600';
export const TURN_PORT = 3478;
export const NGINX_SITE_FILE = '/etc/nginx/sites-available/matrix';
export const COTURN_CONF = '/etc/turnserver.conf';
export const MAX_UPLOAD = '100M';
/** Set beside keys the roles write (public.yaml): no role variable covers it, clients see it in /capabilities. */
export const ROOM_VERSION = '9';
/** Where the admin put the certificate (not a path any role uses by default). */
export const TLS = { cert: '/etc/ssl/handmade/matrix.crt', key: '/etc/ssl/handmade/matrix.key' };

export interface MadeUser { localpart: string; userId: string; password: string }
export interface MadeMessage { roomId: string; eventId: string; sender: string; body: string }

export interface HandBuilt {
  host: string;
  ip: string;
  /** the server name, also the host name clients and nginx use */
  serverName: string;
  /** PEM of the lab CA, the only CA trusted for https to the host */
  ca: string;
  users: { alice: MadeUser; bob: MadeUser };
  /** access tokens of the users' logins made here (each login counts against Synapse's rate limit) */
  tokens: { alice: string; bob: string };
  rooms: { public: string; private: string; publicAlias: string };
  messages: MadeMessage[];
  /** every secret of the host, as Synapse and coturn read them */
  secrets: { dbPassword: string; registration: string; macaroon: string; form: string; turn: string };
  /** the .well-known documents nginx answered, parsed */
  wellKnown: { server: unknown; client: unknown };
}

/** Synapse's merged configuration, loaded as Synapse itself loads it (shallow merge by top-level key). */
export async function effectiveSynapseConfig(lab: LabFixture, host: string): Promise<Record<string, unknown>> {
  const py = `import json
from synapse.config._base import find_config_files, read_config_files
files = find_config_files([${JSON.stringify(SYNAPSE_CONF)}, ${JSON.stringify(`${SYNAPSE_CONF_D}/`)}])
print(json.dumps(read_config_files(files), sort_keys=True, default=str))
`;
  const r = await lab.ssh(host, `/usr/bin/python3 -c ${q(py)}`);
  if (r.code !== 0) throw new Error(`effective Synapse config on ${host}: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Top-level keys whose values differ between two configs, added and removed keys included; sorted. */
export function configKeysChanged(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => !(k in before) || !(k in after) || canonical(before[k]) !== canonical(after[k])).sort();
}

/** JSON with object keys sorted at every depth: equal values, equal text. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

/** A YAML scalar for any string: JSON's double-quoted form is valid YAML. */
const y = (s: string) => JSON.stringify(s);
/** A PostgreSQL string literal. */
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The how-to's nginx site, as the admin wrote it to /etc/nginx/sites-available/matrix. */
export function nginxSite(server: string): string {
  return `server {
    listen 80;
    listen [::]:80;
    server_name ${server};
    return 301 https://$host$request_uri;
}

server {
    listen 443 ssl;
    listen [::]:443 ssl;
    server_name ${server};
    ssl_certificate ${TLS.cert};
    ssl_certificate_key ${TLS.key};
    ${HANDMADE_HEADER}

    location ~ ^(/_matrix|/_synapse/client) {
        proxy_pass http://127.0.0.1:8008;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Host $host;
        client_max_body_size ${MAX_UPLOAD};
        proxy_http_version 1.1;
    }

    location = /.well-known/matrix/server {
        default_type application/json;
        add_header Access-Control-Allow-Origin *;
        return 200 '{"m.server": "${server}:443"}';
    }

    location = /.well-known/matrix/client {
        default_type application/json;
        add_header Access-Control-Allow-Origin *;
        return 200 '{"m.homeserver": {"base_url": "https://${server}"}}';
    }
}
`;
}

/** The admin's script: everything written with `cat >` here-documents, as the how-to shows. */
function script(o: { server: string; dbPassword: string; certPem: string; keyPem: string }): string {
  const { server } = o;
  return `set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'EOF'
matrix-synapse matrix-synapse/server-name string ${server}
matrix-synapse matrix-synapse/report-stats boolean false
EOF
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install matrix-synapse python3-psycopg2 postgresql nginx coturn openssl >/dev/null
# The package starts Synapse on its stock config (a TLS listener without keys): it fails until conf.d is written.
systemctl stop matrix-synapse
systemctl reset-failed matrix-synapse || true

# PostgreSQL: the how-to's user and database, UTF8 with C collation from template0.
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'EOF'
CREATE ROLE synapse_user LOGIN PASSWORD ${sqlString(o.dbPassword)};
CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 OWNER synapse_user;
EOF

# Secrets, random, made here.
REG=$(openssl rand -hex 32)
MAC=$(openssl rand -hex 32)
FORM=$(openssl rand -hex 32)
TURN=$(openssl rand -base64 36 | tr -d '/+=\\n')

cd ${SYNAPSE_CONF_D}
cat > database.yaml <<'EOF'
database:
  name: psycopg2
  args:
    user: synapse_user
    password: ${y(o.dbPassword)}
    dbname: synapse
    host: localhost
    cp_min: 5
    cp_max: 10
EOF
cat > listeners.yaml <<'EOF'
listeners:
  - port: 8008
    tls: false
    type: http
    x_forwarded: true
    bind_addresses: ['::1', '127.0.0.1']
    resources:
      - names: [client, federation]
        compress: false
EOF
cat > keys.yaml <<EOF
registration_shared_secret: "$REG"
macaroon_secret_key: "$MAC"
form_secret: "$FORM"
EOF
cat > public.yaml <<'EOF'
public_baseurl: https://${server}/
max_upload_size: ${MAX_UPLOAD}
enable_registration: false
default_room_version: "${ROOM_VERSION}"
EOF
cat > voip.yaml <<EOF
turn_uris:
  - "turn:${server}:${TURN_PORT}?transport=udp"
  - "turn:${server}:${TURN_PORT}?transport=tcp"
turn_shared_secret: "$TURN"
turn_user_lifetime: 1h
turn_allow_guests: true
EOF
cat > contact.yaml <<'EOF'
admin_contact: ${y(ADMIN_CONTACT)}
allow_public_rooms_over_federation: true
EOF
# Synapse publishes no room in its directory by default: this lets users publish theirs.
cat > directory.yaml <<'EOF'
room_list_publication_rules:
  - action: allow
EOF
chown root:nogroup database.yaml keys.yaml voip.yaml
chmod 0640 database.yaml keys.yaml voip.yaml

# nginx: the how-to's site, with the certificate the organisation's CA signed.
mkdir -p /etc/ssl/handmade
cat > ${TLS.cert} <<'EOF'
${o.certPem.trim()}
EOF
cat > ${TLS.key} <<'EOF'
${o.keyPem.trim()}
EOF
chmod 0600 ${TLS.key}
cat > ${NGINX_SITE_FILE} <<'EOF'
${nginxSite(server)}EOF
ln -sf ${NGINX_SITE_FILE} /etc/nginx/sites-enabled/matrix
rm -f /etc/nginx/sites-enabled/default
nginx -t -q

# coturn, sharing its secret with Synapse.
cat > ${COTURN_CONF} <<EOF
listening-port=${TURN_PORT}
min-port=49160
max-port=49200
realm=${server}
fingerprint
use-auth-secret
static-auth-secret=$TURN
no-tcp-relay
no-tls
no-dtls
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.168.0.0-192.168.255.255
denied-peer-ip=127.0.0.0-127.255.255.255
allowed-peer-ip=10.231.0.0-10.231.0.255
${COTURN_EXTRA}
no-cli
syslog
EOF
chown root:turnserver ${COTURN_CONF}
chmod 0640 ${COTURN_CONF}

systemctl restart coturn nginx matrix-synapse
`;
}

/**
 * Builds the homeserver on `host` (a fresh lab host of `lab`) and fills it with two users, a public
 * and a private room and a few messages. Returns what it made, secrets included (read back from the
 * host's own files, as Synapse loads them).
 */
export async function buildByHand(lab: LabFixture, host: string): Promise<HandBuilt> {
  const h = lab.host(host);
  const server = h.fqdn;
  const ca = (await labCa()).certPem;
  const cert = await issueCertificate([server]);
  // The admin's database password, with characters YAML, SQL and shells treat specially.
  const dbPassword = `${randomBytes(12).toString('base64url')} '"#$\\:{x}`;
  const r = await lab.ssh(host, `bash -c ${q(script({ server, dbPassword, certPem: cert.certPem, keyPem: cert.keyPem }))}`);
  if (r.code !== 0) throw new Error(`hand-built homeserver on ${host}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);

  const https = (path: string, init: Parameters<typeof httpsByName>[4] = {}) => httpsByName(h.ip, ca, server, path, { timeoutMs: 30_000, ...init });
  const ok = (a: JsonAnswer, what: string) => {
    if (a.status !== 200) throw new Error(`${what} on ${host}: ${a.status} ${a.text}`);
    return a.json;
  };
  // The first start makes the database schema: it answers once that is done.
  await eventually(async () => ok(await https('/_matrix/client/versions'), 'client versions through nginx'), 240_000, 500);

  const config = await effectiveSynapseConfig(lab, host);
  const dbArgs = (config.database as { args: Record<string, unknown> }).args;
  const secrets = {
    dbPassword: String(dbArgs.password),
    registration: String(config.registration_shared_secret),
    macaroon: String(config.macaroon_secret_key),
    form: String(config.form_secret),
    turn: String(config.turn_shared_secret),
  };
  if (secrets.dbPassword !== dbPassword) throw new Error(`hand-built ${host}: Synapse reads another database password than the one written`);

  const user = (localpart: string): MadeUser => ({ localpart, userId: `@${localpart}:${server}`, password: `${localpart}-${randomBytes(9).toString('base64url')}` });
  const users = { alice: user('alice'), bob: user('bob') };
  // Registration with the shared secret, by Synapse's own tool, on the host.
  for (const [u, admin] of [[users.alice, true], [users.bob, false]] as const) {
    const reg = await lab.ssh(host, `synapse_register_new_matrix_user -u ${q(u.localpart)} -p ${q(u.password)} ${admin ? '--admin' : '--no-admin'} -c ${SYNAPSE_CONF_D}/keys.yaml http://127.0.0.1:8008`);
    if (reg.code !== 0) throw new Error(`registering ${u.userId} on ${host}: ${reg.stdout}${reg.stderr}`);
  }
  const token = async (u: MadeUser) => ok(await https('/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.localpart }, password: u.password },
  }), `login ${u.userId}`).access_token as string;
  const [alice, bob] = [await token(users.alice), await token(users.bob)];

  const publicRoom = ok(await https('/_matrix/client/v3/createRoom', {
    token: alice, body: { preset: 'public_chat', visibility: 'public', room_alias_name: 'lobby', name: 'Lobby' },
  }), 'create public room').room_id as string;
  const privateRoom = ok(await https('/_matrix/client/v3/createRoom', {
    token: alice, body: { preset: 'private_chat', name: 'Back office', invite: [users.bob.userId] },
  }), 'create private room').room_id as string;
  for (const room of [publicRoom, privateRoom]) ok(await https(`/_matrix/client/v3/join/${encodeURIComponent(room)}`, { token: bob, body: {} }), `bob joins ${room}`);

  const messages: MadeMessage[] = [];
  let txn = 0;
  const send = async (tok: string, sender: MadeUser, roomId: string, body: string) => {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/imp${++txn}`;
    const eventId = ok(await https(path, { method: 'PUT', token: tok, body: { msgtype: 'm.text', body } }), `send to ${roomId}`).event_id as string;
    messages.push({ roomId, eventId, sender: sender.userId, body });
  };
  await send(alice, users.alice, publicRoom, 'Welcome to the hand-built lobby');
  await send(bob, users.bob, publicRoom, 'Hello from bob: "quotes" & ümlauts');
  await send(alice, users.alice, privateRoom, 'The private plan, before the import');
  await send(bob, users.bob, privateRoom, 'Agreed.');

  const wellKnown = {
    server: ok(await https('/.well-known/matrix/server'), '.well-known/matrix/server'),
    client: ok(await https('/.well-known/matrix/client'), '.well-known/matrix/client'),
  };
  return {
    host, ip: h.ip, serverName: server, ca, users, tokens: { alice, bob },
    rooms: { public: publicRoom, private: privateRoom, publicAlias: `#lobby:${server}` },
    messages, secrets, wellKnown,
  };
}
