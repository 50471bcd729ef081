import { isIP } from 'node:net';
import { defineRole, z, secret, apt, directory, file, service, ipAddress, port, redisString } from 'mxplay';

const CONF = '/etc/redis/mxplay.conf';
const DEBIAN_CONF = '/etc/redis/redis.conf';
const UNIT = 'redis-server';
const DROP_IN_DIR = `/etc/systemd/system/${UNIT}.service.d`;
const DROP_IN = `${DROP_IN_DIR}/mxplay.conf`;
const RESTART = 'restart redis';

/** Debian's unit (redis-server 5:8.0.6 on sid): ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --supervised systemd --daemonize no */
const EXEC_START = `/usr/bin/redis-server ${CONF} --supervised systemd --daemonize no`;

/** What Redis reads as a memory size (memtoull): bytes, or k/kb/m/mb/g/gb in any case. */
const MEMORY = /^\d+([kmg]b?|b)?$/i;
const POLICIES = ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const;

interface RedisVars {
  redis_bind_addresses: string[];
  redis_port: number;
  redis_maxmemory?: string | undefined;
  redis_maxmemory_policy: string;
}

/**
 * /etc/redis/mxplay.conf: Debian's conffile first, then our directives; for a directive given twice
 * Redis keeps the later one, so these win without editing redis.conf (which stays the package's).
 * `::1` is written `-::1` as Debian's own redis.conf does: Redis skips it on a host without IPv6
 * instead of refusing to start. Addresses are IP addresses and the port a number (no quoting
 * needed); the password is redisString's double-quoted form.
 */
export function redisConf(v: RedisVars, password: string): string {
  const bind = v.redis_bind_addresses.map((a) => (a === '::1' ? '-::1' : a));
  return [
    `include ${DEBIAN_CONF}`,
    '# managed by mxplay, role redis: these directives override the ones above',
    `bind ${bind.join(' ')}`,
    `port ${v.redis_port}`,
    'protected-mode yes',
    `requirepass ${redisString(password)}`,
    ...(v.redis_maxmemory ? [`maxmemory ${v.redis_maxmemory}`, `maxmemory-policy ${v.redis_maxmemory_policy}`] : []),
    '',
  ].join('\n');
}

/** The systemd drop-in: Debian's ExecStart with our file in place of redis.conf, its other arguments kept. */
export const DROP_IN_TEXT = [
  '# managed by mxplay, role redis: start Redis with /etc/redis/mxplay.conf (which includes redis.conf)',
  '[Service]',
  'ExecStart=',
  `ExecStart=${EXEC_START}`,
  '',
].join('\n');

/**
 * Where the restart waits for Redis to accept connections: an IPv4 address it listens on (0.0.0.0
 * is reached as 127.0.0.1). The service resource's tcp check takes host:port with the first `:`
 * as separator, so an IPv6 address cannot be given: when only IPv6 addresses are bound, the wait
 * is systemd's own (Type=notify: `systemctl restart` returns once Redis has said it is ready).
 */
export function readyOf(v: Pick<RedisVars, 'redis_bind_addresses' | 'redis_port'>): { tcp: string; timeout_s: number } | undefined {
  const v4 = v.redis_bind_addresses.filter((a) => isIP(a) === 4);
  const ip = v4.includes('127.0.0.1') || v4.includes('0.0.0.0') ? '127.0.0.1' : v4[0];
  return ip ? { tcp: `${ip}:${v.redis_port}`, timeout_s: 60 } : undefined;
}

export default defineRole({
  name: 'redis',
  description: "Redis from Debian's apt for Synapse workers (replication pub/sub), with a password shared with Synapse",
  vars: z.object({
    redis_bind_addresses: z.array(ipAddress).min(1).default(['127.0.0.1', '::1'])
      .describe('addresses Redis listens on; add the address the Synapse workers on other hosts connect to (::1 is skipped on a host without IPv6)'),
    redis_port: port.default(6379).describe('TCP port Redis listens on'),
    redis_password: secret().optional()
      .describe("requirepass, the password Synapse and its workers authenticate with; derived from mxplay_master_secret ('synapse_redis_password', shared with synapse_main_host) when unset"),
    synapse_main_host: z.string().min(1).optional()
      .describe("the inventory host running Synapse's main process: secrets derived for the homeserver are shared with it"),
    redis_maxmemory: z.string().regex(MEMORY, 'a memory size like 256mb (bytes, or a number with k, kb, m, mb, g or gb)').optional()
      .describe('maxmemory: the most memory Redis uses for data (unset: no limit)'),
    redis_maxmemory_policy: z.enum(POLICIES).default('noeviction')
      .describe('maxmemory-policy, written only with redis_maxmemory; noeviction refuses writes when full instead of dropping keys'),
  }),
  tasks: (v, ctx) => {
    const password = v.redis_password ?? ctx.derivedSecret('synapse_redis_password', v.synapse_main_host);
    return [
      apt({ names: ['redis-server'] }),
      // No check before the restart: redis-server has no config-test mode (--test-memory tests
      // RAM, nothing else), and starting a throw-away server on the new file would need a free port
      // and its own data directory. A file Redis refuses fails the restart, whose readiness wait
      // then shows the unit's log.
      file({
        path: CONF,
        content: redisConf(v, password),
        // As Debian's redis.conf (dpkg-statoverride redis redis 640): the user is the package's,
        // so a plan on a bare host shows the file as '?' until apt has run.
        mode: 0o640,
        owner: 'redis',
        group: 'redis',
        // The password is written in Redis's own escapes, which no output masking knows: the
        // file's diff is never shown, only that it changes.
        sensitive: true,
        notify: RESTART,
      }),
      directory({ path: DROP_IN_DIR, mode: 0o755 }),
      file({ path: DROP_IN, content: DROP_IN_TEXT, mode: 0o644, onChange: 'systemctl daemon-reload', notify: RESTART }),
      service({ name: UNIT, enabled: true, state: 'started', ready: readyOf(v) }),
    ];
  },
  handlers: (v) => ({ [RESTART]: service.restart(UNIT, readyOf(v)) }),
  ports: (v) => (v.redis_bind_addresses.some((a) => !/^(127\.|::1$|-::1$)/.test(a))
    ? [{ protocol: 'tcp', port: v.redis_port, why: "Redis for Synapse's workers on other hosts" }]
    : []),
  // Only a Redis bound beyond loopback is for other hosts (Synapse's workers) to reach.
  verify: (v) => (v.redis_bind_addresses.some((a) => !/^(127\.|::1$|-::1$)/.test(a))
    ? [{ what: "Redis takes connections from other hosts", probe: { kind: 'tcp', port: v.redis_port } }]
    : []),
});
