// The synapse role's rate limits and its outbound-federation settings: schemas and the fragments
// they make. Read against Synapse 1.160's own parser (synapse/config/ratelimiting.py, server.py,
// key.py).
import { z, serverName } from 'mxplay';

/**
 * One of Synapse's rate limiters. Synapse reads per_second as a float and burst_count through
 * int(), so a fraction there would silently be cut. The bounds keep each number in the range where
 * it is written as a plain decimal: PyYAML reads `1e-7` or `1e+21` (no dot) as a string, and
 * Synapse would then fail at the first request, not at its config check.
 */
const limiter = z.strictObject({
  per_second: z.number().min(0.000001).max(1e9).describe('sustained requests per second (a float; 0.003 is one every ~5.5 min)'),
  burst_count: z.number().int().min(1).max(1e9).describe('requests allowed at once before per_second applies'),
});

/** A limiter group with named parts (rc_login.address, ...): at least one part, no unknown one. */
const group = <K extends string>(parts: readonly K[], what: string) =>
  z.strictObject(Object.fromEntries(parts.map((p) => [p, limiter.optional()])) as Record<K, z.ZodOptional<typeof limiter>>)
    .refine((o) => Object.values(o).some((x) => x !== undefined), `give at least one of ${parts.join(', ')} (${what})`);

export const rateLimitVars = {
  synapse_rc_login: group(['address', 'account', 'failed_attempts'] as const, 'a part left out keeps Synapse\'s default').optional()
    .describe("Synapse's rc_login: logins per client address, per account, and failed attempts per account (Synapse's defaults: 5 at once, then one per ~5.5 min)"),
  synapse_rc_message: limiter.optional().describe("Synapse's rc_message: messages sent per user (default 0.2/s, burst 10)"),
  synapse_rc_registration: limiter.optional().describe("Synapse's rc_registration: registrations per client address (default 0.17/s, burst 3)"),
  synapse_rc_joins: group(['local', 'remote'] as const, 'a part left out keeps Synapse\'s default').optional()
    .describe("Synapse's rc_joins: joins per user to rooms known here (local) and over federation (remote)"),
  synapse_rc_room_creation: limiter.optional().describe("Synapse's rc_room_creation: rooms created per user (default 0.016/s, burst 10)"),
};

const RC_KEYS = {
  synapse_rc_login: 'rc_login',
  synapse_rc_message: 'rc_message',
  synapse_rc_registration: 'rc_registration',
  synapse_rc_joins: 'rc_joins',
  synapse_rc_room_creation: 'rc_room_creation',
} as const;

type RateLimitValues = { [K in keyof typeof RC_KEYS]?: object };

/** The rate_limits fragment: only the limits given (unset keeps Synapse's default); none, no fragment. */
export function rateLimitConfig(v: RateLimitValues): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(RC_KEYS)) {
    const value = v[name as keyof typeof RC_KEYS];
    // A group's parts left out are left out of the file too (JSON drops undefined).
    if (value !== undefined) out[key] = JSON.parse(JSON.stringify(value));
  }
  return Object.keys(out).length ? out : null;
}

/** An ed25519 verify key as Synapse's trusted_key_servers take it: key id -> unpadded base64 (32 bytes). */
const verifyKeys = z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]{43}=?$/, 'an ed25519 public key in base64 (43 characters)'))
  .superRefine((keys, ctx) => {
    // Checked here rather than as the record's key schema, whose message zod replaces by its own.
    for (const id of Object.keys(keys)) {
      if (!/^ed25519:[A-Za-z0-9_]{1,64}$/.test(id)) ctx.addIssue({ code: 'custom', path: [id], message: 'a key id like ed25519:auto (Synapse knows only ed25519 keys)' });
    }
  });

/** Synapse's netaddr takes an address or a network; the union's own message would say only "Invalid input". */
const network = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'an IPv4 or IPv6 address or network (CIDR) like 10.231.0.0/24 or fd00::/8' });

export const federationVars = {
  // Synapse 1.160 reads ip_range_whitelist (and ip_range_blacklist): server.py has no *_allowlist key.
  synapse_ip_range_whitelist: z.array(network).default([])
    .describe("addresses or networks (CIDR) Synapse may reach although its blocklist covers them (Synapse's ip_range_whitelist): a private federation's own network, push or identity servers on it"),
  synapse_trusted_key_servers: z.array(z.strictObject({
    server_name: serverName.describe('the notary server'),
    verify_keys: verifyKeys.optional().describe("its signing keys: Synapse then checks the notary's answers against them"),
    accept_keys_insecurely: z.boolean().optional().describe('only with federation certificate checks off: trust this notary without verify_keys'),
  })).default([{ server_name: 'matrix.org' }])
    .describe("notaries asked for other servers' signing keys (Synapse's trusted_key_servers); [] asks none, each server is asked for its own keys (private or air-gapped federation)"),
};

export function keyServersConfig(v: { synapse_trusted_key_servers: z.output<typeof federationVars.synapse_trusted_key_servers> }) {
  return {
    // Written always: left unset, Synapse warns at every start that no key server is configured,
    // whatever suppress_key_server_warning says. That flag only hides the warning about trusting
    // matrix.org, which the role's default does knowingly (see README).
    trusted_key_servers: v.synapse_trusted_key_servers.map((s) => JSON.parse(JSON.stringify(s)) as object),
    suppress_key_server_warning: true,
  };
}
