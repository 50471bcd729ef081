import { isIP } from 'node:net';
import { defineRole, z, secret, apt, template, service, absolutePath, ipAddress, port, turnserverOption } from 'mxplay';
import { FLAVOURS, fragment, synapseHandlers, synapseSharedVars } from '../synapse/fragment.ts';
import { extraOptionsVar } from './extra-options.ts';

const CONF = '/etc/turnserver.conf';
const RESTART = 'restart coturn';

// Peers a relay must never reach by default (RFC 1918, loopback, link-local, CGNAT, documentation,
// benchmarking, multicast/reserved, and their IPv6 counterparts): otherwise any Matrix user could
// use the TURN server to reach the server's own network.
const PRIVATE_PEERS = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24',
  '203.0.113.0/24', '240.0.0.0/4',
  '::1', '64:ff9b::/96', '::ffff:0.0.0.0/96', '100::/64', '2001::/23', '2002::/16', 'fc00::/7', 'fe80::/10',
];

/** coturn takes an address or a range "A-B" (not CIDR): turn "A/N" into its range. */
export function peerRange(spec: string): string {
  const slash = spec.indexOf('/');
  if (slash < 0) return spec;
  const addr = spec.slice(0, slash);
  const len = Number(spec.slice(slash + 1));
  const v = isIP(addr);
  const bits = v === 4 ? 32 : 128;
  const n = toBig(addr, v);
  const host = (1n << BigInt(bits - len)) - 1n;
  const lo = n & ~host & ((1n << BigInt(bits)) - 1n);
  return `${fromBig(lo, v)}-${fromBig(lo | host, v)}`;
}

function toBig(addr: string, v: number): bigint {
  if (v === 4) return addr.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  let s = addr;
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s); // ::ffff:1.2.3.4
  if (m) {
    const x = toBig(m[1]!, 4);
    s = s.slice(0, -m[1]!.length) + `${(x >> 16n).toString(16)}:${(x & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBig(n: bigint, v: number): string {
  if (v === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':');
}

const peer = z.string().refine((s) => {
  const [a, len, ...rest] = s.split('/');
  if (rest.length) return false;
  if (len === undefined) return s.split('-').every((p) => isIP(p) !== 0);
  const v = isIP(a!);
  return v !== 0 && /^\d+$/.test(len) && Number(len) <= (v === 4 ? 32 : 128);
}, 'an IP address, a range A-B or a CIDR block');

/** One line of turnserver.conf holds a value: no line break, no NUL. */
const oneLine = (s: string) => !/[\0\r\n]/.test(s);
/** coturn keeps a realm in a buffer of 127 bytes (STUN_MAX_REALM_SIZE): a longer one would be cut. */
const REALM_MAX_BYTES = 127;
/** static-auth-secret="..." must fit the 1023 bytes coturn reads as one line. */
const SECRET_MAX_BYTES = 1000;
/** external-ip: the public address, or public/private when the host is behind NAT. */
const externalIp = z.string().refine((s) => {
  const parts = s.split('/');
  return parts.length <= 2 && parts.every((p) => isIP(p) !== 0);
}, 'an IP address, or public/private addresses like 203.0.113.5/10.0.0.5');

export default defineRole({
  name: 'coturn',
  description: 'coturn TURN server with a shared secret, and the Synapse turn_* settings from the same data',
  vars: z.object({
    coturn_realm: z.string().min(1)
      .refine((s) => oneLine(s) && Buffer.byteLength(s) <= REALM_MAX_BYTES,
        `one line of at most ${REALM_MAX_BYTES} bytes (coturn's limit for a realm): no line break or NUL`)
      // coturn answers 400 to a request whose realm holds blanks, quotes or a backslash (is_secure_string).
      .refine((s) => !/[^\S\r\n\u2028\u2029]|['"\\]|[^\P{Cc}\r\n\0]/u.test(s), 'no spaces, quotes, backslashes or control characters (coturn refuses such a realm in every request)')
      .describe('TURN realm, usually the public TURN host name; also the host in the default turn_uris'),
    coturn_shared_secret: secret()
      .refine((s) => oneLine(s) && Buffer.byteLength(s) <= SECRET_MAX_BYTES,
        `one line of /etc/turnserver.conf: no line break or NUL, at most ${SECRET_MAX_BYTES} bytes`)
      .optional()
      .describe("coturn static-auth-secret = Synapse turn_shared_secret; derived from mxplay_master_secret ('turn_shared_secret') when unset"),
    coturn_listening_port: port.default(3478),
    coturn_tls_listening_port: port.default(5349),
    coturn_listening_ips: z.array(ipAddress).default([]).describe('addresses coturn listens on (empty: all)'),
    coturn_external_ip: externalIp.optional().describe('public address when the host is behind NAT (external-ip)'),
    coturn_min_port: z.number().int().min(1024).max(65535).default(49152).describe('first UDP port of the relay range'),
    coturn_max_port: z.number().int().min(1024).max(65535).default(65535).describe('last UDP port of the relay range'),
    coturn_tls_cert: absolutePath.optional().describe('path on the host of the TLS certificate chain (enables turns: on the TLS port)'),
    coturn_tls_key: absolutePath.optional().describe('path on the host of the TLS private key'),
    coturn_denied_peer_ips: z.array(peer).default(PRIVATE_PEERS)
      .describe('peer addresses relays may not reach (address, A-B range or CIDR); private and special ranges by default'),
    coturn_allowed_peer_ips: z.array(peer).default([])
      .describe('exceptions to the denied list, e.g. the lab network; coturn checks these first'),
    coturn_user_quota: z.number().int().min(0).default(12).describe('concurrent allocations per user (0: unlimited)'),
    coturn_total_quota: z.number().int().min(0).default(1200).describe('concurrent allocations in total (0: unlimited)'),
    coturn_turn_uris: z.array(z.string()).optional()
      .describe('turn_uris given to Synapse clients; default turn:REALM:PORT over udp and tcp, plus turns:REALM:TLSPORT with TLS'),
    coturn_turn_user_lifetime: z.string().regex(/^\d+(ms|s|m|h|d|w|y)?$/, 'a Synapse duration like 1h').default('1h'),
    coturn_turn_allow_guests: z.boolean().default(true),
    coturn_extra_options: extraOptionsVar,
    coturn_synapse_fragment: z.boolean().default(true)
      .describe('write the Synapse turn fragment on this host (needs the synapse role on it); false removes it'),
    ...synapseSharedVars,
  })
    .refine((v) => !v.coturn_tls_cert === !v.coturn_tls_key, { path: ['coturn_tls_key'], message: 'TLS needs both coturn_tls_cert and coturn_tls_key' })
    .refine((v) => v.coturn_min_port <= v.coturn_max_port, { path: ['coturn_max_port'], message: 'coturn_max_port is below coturn_min_port' }),
  tasks: (v, ctx) => {
    const secretValue = v.coturn_shared_secret ?? ctx.derivedSecret('turn_shared_secret');
    const tls = !!v.coturn_tls_cert;
    const uris = v.coturn_turn_uris ?? [
      `turn:${v.coturn_realm}:${v.coturn_listening_port}?transport=udp`,
      `turn:${v.coturn_realm}:${v.coturn_listening_port}?transport=tcp`,
      ...(tls ? [`turns:${v.coturn_realm}:${v.coturn_tls_listening_port}?transport=tcp`] : []),
    ];
    return [
      apt({ names: ['coturn'] }),
      template({
        path: CONF,
        src: 'turnserver.conf.ejs',
        mode: 0o640,
        owner: 'root',
        group: 'turnserver', // created by the package: unresolved ('?') in a plan before it
        notify: RESTART,
        data: {
          staticAuthSecret: secretValue,
          tls,
          denied: v.coturn_denied_peer_ips.map(peerRange),
          allowed: v.coturn_allowed_peer_ips.map(peerRange),
          turnserverOption,
        },
      }),
      // No /etc/default/coturn: its TURNSERVER_ENABLED is read only by the sysvinit script;
      // Debian's systemd unit starts turnserver unconditionally.
      service({ name: 'coturn', enabled: true, state: 'started', ready: ready(v) }),
      fragment('turn', 'coturn', v.coturn_synapse_fragment
        ? {
            turn_uris: uris,
            turn_shared_secret: secretValue,
            turn_user_lifetime: v.coturn_turn_user_lifetime,
            turn_allow_guests: v.coturn_turn_allow_guests,
          }
        : null, FLAVOURS[v.synapse_package_source], { secret: true }),
    ];
  },
  // Its turn fragment notifies Synapse's restart: defined here too, so coturn also plays on a host
  // without the synapse role.
  handlers: (v) => ({ [RESTART]: service.restart('coturn', ready(v)), ...synapseHandlers(v) }),
  ports: (v) => [
    ...(['tcp', 'udp'] as const).map((protocol) => ({ protocol, port: v.coturn_listening_port, why: 'TURN/STUN' })),
    ...(v.coturn_tls_cert ? (['tcp', 'udp'] as const).map((protocol) => ({ protocol, port: v.coturn_tls_listening_port, why: 'TURN over TLS/DTLS' })) : []),
    { protocol: 'udp', port: [v.coturn_min_port, v.coturn_max_port], why: 'TURN relay ports' },
  ],
  // What a WebRTC client asks first; with TLS, that its port takes connections.
  verify: (v) => [
    { what: 'TURN server: STUN binding', probe: { kind: 'stun', port: v.coturn_listening_port } },
    ...(v.coturn_tls_cert ? [{ what: 'TURN over TLS: port open', probe: { kind: 'tcp', port: v.coturn_tls_listening_port } } as const] : []),
  ],
});

function ready(v: { coturn_listening_ips: string[]; coturn_listening_port: number }) {
  const ip = v.coturn_listening_ips[0] ?? '127.0.0.1';
  return { tcp: `${ip.includes(':') ? `[${ip}]` : ip}:${v.coturn_listening_port}`, timeout_s: 30 };
}
