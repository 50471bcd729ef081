import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { deriveSecret } from '../../../src/secrets/secrets.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { DROP_IN_TEXT, readyOf, redisConf } from '../../../roles/redis/role.ts';
import { tempDir, writeTree } from '../helpers.ts';

const MASTER = 'unit-master-secret-0123';
const CONF = '/etc/redis/mxplay.conf';
const DROP_IN = '/etc/systemd/system/redis-server.service.d/mxplay.conf';
const DEFAULTS = { redis_bind_addresses: ['127.0.0.1', '::1'], redis_port: 6379, redis_maxmemory_policy: 'noeviction' };

describe('redis config and systemd drop-in', () => {
  it("includes Debian's redis.conf first, then overrides bind, port, protected-mode and requirepass", () => {
    expect(redisConf(DEFAULTS, 'pw-123456')).toBe([
      'include /etc/redis/redis.conf',
      '# managed by mxplay, role redis: these directives override the ones above',
      'bind 127.0.0.1 -::1',
      'port 6379',
      'protected-mode yes',
      'requirepass "pw-123456"',
      '',
    ].join('\n'));
  });

  it('the password goes through redisString: it cannot end the line or the quote', () => {
    const text = redisConf(DEFAULTS, 'a" \nbind 0.0.0.0 #\\');
    expect(text).toContain('requirepass "a\\x22 \\x0abind 0.0.0.0 #\\x5c"\n');
    expect(text.split('\n').filter((l) => l.startsWith('bind '))).toEqual(['bind 127.0.0.1 -::1']);
  });

  it.each<[string, Partial<typeof DEFAULTS> & { redis_maxmemory?: string }, string[], string[]]>([
    ['maxmemory and its policy only together', { redis_maxmemory: '256mb' }, ['maxmemory 256mb', 'maxmemory-policy noeviction'], []],
    ['another policy', { redis_maxmemory: '1gb', redis_maxmemory_policy: 'allkeys-lru' }, ['maxmemory 1gb', 'maxmemory-policy allkeys-lru'], []],
    ['no maxmemory: no policy either', { redis_maxmemory_policy: 'allkeys-lru' }, [], ['maxmemory']],
    ['other addresses and port; only ::1 is optional', { redis_bind_addresses: ['10.0.0.5', '::', '::1'], redis_port: 6380 }, ['bind 10.0.0.5 :: -::1', 'port 6380'], []],
  ])('%s', (_n, over, has, lacks) => {
    const lines = redisConf({ ...DEFAULTS, ...over }, 'pw-123456').split('\n');
    for (const l of has) expect(lines).toContain(l);
    for (const l of lacks) expect(lines.some((x) => x.startsWith(l))).toBe(false);
  });

  it("the drop-in clears Debian's ExecStart and starts the same command on our file", () => {
    expect(DROP_IN_TEXT.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      '[Service]',
      'ExecStart=',
      'ExecStart=/usr/bin/redis-server /etc/redis/mxplay.conf --supervised systemd --daemonize no',
      '',
    ]);
  });

  it.each<[string[], string | undefined]>([
    [['127.0.0.1', '::1'], '127.0.0.1:6379'],
    [['::1', '10.0.0.5'], '10.0.0.5:6379'],
    [['0.0.0.0'], '127.0.0.1:6379'],
    [['10.0.0.5', '127.0.0.1'], '127.0.0.1:6379'],
    [['::1'], undefined],
  ])('readiness for %j: %s', (addrs, tcp) => expect(readyOf({ redis_bind_addresses: addrs, redis_port: 6379 })?.tcp).toBe(tcp));
});

describe('redis role: built per host', () => {
  async function build(hosts: Record<string, string>) {
    const hostsYaml = Object.entries(hosts).map(([h, vars]) => `    ${h}:\n${vars ? vars.replace(/^/gm, '      ') : '      {}'}`).join('\n');
    const cwd = writeTree(tempDir(), {
      'site.yml': '- hosts: all\n  roles: [redis]\n',
      'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: ${MASTER} }\n  hosts:\n${hostsYaml}\n`,
    });
    const secrets = new SecretRegistry();
    try {
      return { works: await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets }) };
    } catch (e) {
      if (e instanceof UserErrors) return { errors: e.errors.map((x) => x.toString()) };
      throw e;
    }
  }
  const itemsOf = (r: Awaited<ReturnType<typeof build>>, host: string): Resource[] =>
    r.works!.find((w) => w.host.name === host)!.plays[0]!.items.map((i) => i.resource);
  const created = (r: Resource) => r.plan({ kind: 'none' }) as Change;
  const password = (r: Resource) => /^requirepass "(.*)"$/m.exec(created(r).diff!.after!)![1];

  it('good input: the package, our config, the drop-in (daemon-reload), the service, the restart handler', async () => {
    const r = await build({ r1: '' });
    expect(r.errors).toBeUndefined();
    const items = itemsOf(r, 'r1');
    expect(items.map((x) => `${x.type} ${x.id}`)).toEqual([
      'apt redis-server', `file ${CONF}`, 'directory /etc/systemd/system/redis-server.service.d', `file ${DROP_IN}`, 'service redis-server',
    ]);
    for (const f of [CONF, DROP_IN]) expect(items.find((x) => x.id === f)!.notify).toEqual(['restart redis']);
    const handlers = r.works![0]!.plays[0]!.handlers;
    expect([...handlers.keys()]).toEqual(['restart redis']);
    expect((handlers.get('restart redis')!.plan({ LoadState: 'loaded', ActiveState: 'active' }) as Change).script).toMatch(/systemctl restart redis-server[\s\S]*dev\/tcp\/127\.0\.0\.1\/6379/);

    const conf = created(items.find((x) => x.id === CONF)!);
    expect(conf.summary).toBe('create (0640 redis:redis)');
    expect(conf.diff!.hidden).toBe(true); // the password in Redis's escapes: never shown
    const dropIn = created(items.find((x) => x.id === DROP_IN)!);
    expect(dropIn.summary).toBe('create (0644 root:root)');
    expect(dropIn.script).toMatch(/systemctl daemon-reload$/);
    expect(dropIn.diff!.hidden).toBeUndefined();
  });

  it("the package's user and group: the config is '?' until apt has made them", async () => {
    const r = await build({ r1: '' });
    const conf = itemsOf(r, 'r1').find((x) => x.id === CONF)!;
    expect(conf.plan({ kind: 'none', ownerMissing: true, groupMissing: true })).toEqual({ unresolved: 'user redis does not exist yet' });
  });

  it("the password: given, else derived for synapse_main_host's scope (the same the synapse role derives there), else for the host itself", async () => {
    const r = await build({ hs1: '', r1: 'synapse_main_host: hs1', r2: '', r3: 'redis_password: "given-pw-1"' });
    expect(r.errors).toBeUndefined();
    const pw = (h: string) => password(itemsOf(r, h).find((x) => x.id === CONF)!);
    expect(pw('r1')).toBe(deriveSecret(MASTER, 'hs1:synapse_redis_password'));
    expect(pw('hs1')).toBe(deriveSecret(MASTER, 'hs1:synapse_redis_password'));
    expect(pw('r2')).toBe(deriveSecret(MASTER, 'r2:synapse_redis_password'));
    expect(pw('r3')).toBe('given-pw-1');
  });

  it.each([
    ['a bind address that is no IP address', 'redis_bind_addresses: ["localhost"]', 'redis_bind_addresses', /./],
    ['a bind address with a directive after it', 'redis_bind_addresses: ["127.0.0.1\\nrequirepass x"]', 'redis_bind_addresses', /./],
    ['no bind address', 'redis_bind_addresses: []', 'redis_bind_addresses', /./],
    ['a port out of range', 'redis_port: 70000', 'redis_port', /./],
    ['a short password', 'redis_password: short', 'redis_password', /at least 8 characters/],
    ['a memory size Redis does not read', 'redis_maxmemory: 256 MB', 'redis_maxmemory', /a memory size like 256mb/],
    ['a policy Redis does not know', 'redis_maxmemory: 1gb\nredis_maxmemory_policy: lru', 'redis_maxmemory_policy', /noeviction/],
  ])('%s: the error names host, role and key', async (_n, vars, key, msg) => {
    const r = await build({ r1: vars });
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatch(new RegExp(`host r1, role redis, key ${key}: `));
    expect(r.errors![0]).toMatch(msg);
  });

  it('synapse_main_host with another master secret: refused, naming the shared host', async () => {
    const r = await build({ hs1: 'mxplay_master_secret: other-master-secret-0123', r1: 'synapse_main_host: hs1' });
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatch(/host r1, role redis, key mxplay_master_secret: 'synapse_redis_password' is shared with host hs1/);
  });
});
