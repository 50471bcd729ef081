// Synapse's workers as an inventory declares them: the topology every host computes alike, what
// Synapse would refuse (refused first, naming host and key), the shared config, each worker's
// file, and the proxy's routes. Built with the real engine from an inventory, no hosts contacted.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import type { HostWork } from '../../../src/engine/work.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const COMMON = {
  mxplay_master_secret: 'unit-master-secret-0123',
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  synapse_package_source: 'debian',
  proxy_tls_self_signed: true,
};
const SYNC = { name: 'sync1', type: 'generic', serves: ['client_sync'], port: 8083 };
const MEDIA = { name: 'media1', type: 'media_repository', port: 8085 };

type Hosts = Record<string, Record<string, unknown>>;

async function build(hosts: Hosts, opts: { vars?: Record<string, unknown>; proxy?: 'nginx' | 'apache'; proxyHost?: string } = {}) {
  const cwd = writeTree(tempDir(), {
    'site.yml': [
      '- hosts: synapse\n  roles: [synapse]\n',
      `- hosts: proxy\n  roles: [${opts.proxy ?? 'nginx'}]\n`,
    ].join(''),
    'inventory/hosts.yml': JSON.stringify({
      all: {
        vars: { ...COMMON, ...opts.vars },
        hosts: hosts,
        children: { synapse: { hosts: Object.fromEntries(Object.keys(hosts).filter((h) => h !== 'px').map((h) => [h, {}])) }, proxy: { hosts: { [opts.proxyHost ?? Object.keys(hosts)[0]!]: {} } } },
      },
    }),
  });
  const secrets = new SecretRegistry();
  const work = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets });
  return { work, secrets };
}

async function errors(hosts: Hosts, opts: Parameters<typeof build>[1] = {}): Promise<string[]> {
  return userErrorsOf(build(hosts, opts));
}

const find = (work: HostWork[], host: string, id: string) => {
  const w = work.find((x) => x.host.name === host)!;
  return w.plays.flatMap((p) => [...p.items.map((i) => i.resource), ...p.handlers.values()]).find((r) => r.id === id);
};
/** A file's content as the plan would write it on a host that has none. */
const content = (work: HostWork[], host: string, path: string): string | undefined => {
  const r = find(work, host, path);
  if (!r) return undefined;
  const p = r.plan({ kind: 'none' }) as { diff?: { after?: string | null } } | null;
  return p?.diff?.after ?? undefined;
};
const yamlOf = (work: HostWork[], host: string, path: string) => parse(content(work, host, path) ?? 'null');

const TWO_HOSTS: Hosts = {
  m1: { ansible_host: '10.0.0.1' },
  w1: { ansible_host: '10.0.0.2', synapse_main_host: 'm1', synapse_workers: [SYNC, MEDIA, { name: 'fed1', type: 'federation_sender' }], synapse_redis_host: '10.0.0.3' },
};

describe('synapse workers: one topology, the same on every host', () => {
  it('a single host without workers is what it was: no workers fragment, no replication listener', async () => {
    const { work } = await build({ m1: {} });
    expect(find(work, 'm1', '/etc/matrix-synapse/conf.d/workers.yaml')?.plan({ kind: 'none' })).toBeNull();
    expect(yamlOf(work, 'm1', '/etc/matrix-synapse/conf.d/listeners.yaml').listeners).toHaveLength(1);
  });

  it('workers on another host: the same shared fragments on both hosts, with the topology', async () => {
    const { work } = await build(TWO_HOSTS, { vars: { synapse_redis_host: '10.0.0.3' } });
    for (const f of ['workers', 'secrets', 'database', 'listeners', 'media']) {
      const path = `/etc/matrix-synapse/conf.d/${f}.yaml`;
      expect(content(work, 'w1', path), f).toBe(content(work, 'm1', path));
    }
    const shared = yamlOf(work, 'm1', '/etc/matrix-synapse/conf.d/workers.yaml');
    expect(shared).toMatchObject({
      redis: { enabled: true, host: '10.0.0.3', port: 6379 },
      instance_map: { main: { host: '10.0.0.1', port: 9093 } },
      federation_sender_instances: ['fed1'],
      enable_media_repo: false,
      media_instance_running_background_jobs: 'media1',
    });
    expect(shared.worker_replication_secret).toMatch(/.{16,}/);
    // The main process listens for replication at its address.
    expect(yamlOf(work, 'm1', '/etc/matrix-synapse/conf.d/listeners.yaml').listeners[1]).toMatchObject({ port: 9093, bind_addresses: ['10.0.0.1'], resources: [{ names: ['replication'] }] });
    // Each worker's own file, on its host only.
    expect(yamlOf(work, 'w1', '/etc/matrix-synapse/workers/sync1.yaml')).toMatchObject({
      worker_app: 'synapse.app.generic_worker', worker_name: 'sync1',
      worker_listeners: [{ type: 'http', port: 8083, bind_addresses: ['10.0.0.2'], resources: [{ names: ['client'] }] }],
    });
    expect(yamlOf(work, 'w1', '/etc/matrix-synapse/workers/media1.yaml')).toMatchObject({ enable_media_repo: true });
    expect(find(work, 'm1', '/etc/matrix-synapse/workers/sync1.yaml')).toBeUndefined();
    // The signing key: one for the homeserver, written on every host.
    expect(content(work, 'm1', '/etc/matrix-synapse/homeserver.signing.key')).toMatch(/^ed25519 a_[A-Za-z0-9]+ [A-Za-z0-9+/]{43}\n$/);
    expect(content(work, 'w1', '/etc/matrix-synapse/homeserver.signing.key')).toBe(content(work, 'm1', '/etc/matrix-synapse/homeserver.signing.key'));
  });

  it('given addresses, ports and secrets are the ones every host writes (internal address, replication and Redis ports, Redis password, replication secret, signing key)', async () => {
    const key = `ed25519 a_given ${'A'.repeat(43)}\n`;
    const hosts: Hosts = {
      m1: { ansible_host: 'm1.example.net', synapse_internal_address: '10.1.0.1' },
      w1: { ...TWO_HOSTS.w1, synapse_internal_address: '10.1.0.2' },
    };
    const { work } = await build(hosts, { vars: {
      synapse_redis_host: '10.0.0.3', synapse_redis_port: 6380, synapse_redis_password: 'given-redis-pw-1',
      synapse_replication_port: 9193, synapse_worker_replication_secret: 'given-replication-secret-1', synapse_signing_key: key,
    } });
    for (const h of ['m1', 'w1']) {
      expect(yamlOf(work, h, '/etc/matrix-synapse/conf.d/workers.yaml')).toMatchObject({
        redis: { enabled: true, host: '10.0.0.3', port: 6380, password: 'given-redis-pw-1' },
        instance_map: { main: { host: '10.1.0.1', port: 9193 } },
        worker_replication_secret: 'given-replication-secret-1',
      });
      expect(content(work, h, '/etc/matrix-synapse/homeserver.signing.key')).toBe(key);
      // Readable by Synapse alone, and never shown.
      const put = (find(work, h, '/etc/matrix-synapse/homeserver.signing.key')!.plan({ kind: 'none' }) as { script: string; diff: { hidden?: boolean } });
      expect(put.script).toMatch(/^mxp_put \/etc\/matrix-synapse\/homeserver\.signing\.key 0600 matrix-synapse root /m);
      expect(put.diff.hidden).toBe(true);
    }
    expect(yamlOf(work, 'm1', '/etc/matrix-synapse/conf.d/listeners.yaml').listeners[1]).toMatchObject({ port: 9193, bind_addresses: ['10.1.0.1'] });
    expect(yamlOf(work, 'w1', '/etc/matrix-synapse/workers/sync1.yaml').worker_listeners[0]).toMatchObject({ bind_addresses: ['10.1.0.2'] });
  });

  it("derived secrets are the main host's: a homeserver that grows from one host keeps its secrets", async () => {
    const alone = await build({ m1: {} });
    const grown = await build(TWO_HOSTS, { vars: { synapse_redis_host: '10.0.0.3' } });
    const secretsOf = (work: HostWork[], h: string) => content(work, h, '/etc/matrix-synapse/conf.d/secrets.yaml');
    expect(secretsOf(grown.work, 'm1')).toBe(secretsOf(alone.work, 'm1'));
    expect(secretsOf(grown.work, 'w1')).toBe(secretsOf(alone.work, 'm1'));
  });

  it('a proxy on a host of its own reaches the workers at their addresses, and changes no signing key', async () => {
    const hosts = { m1: { ansible_host: '10.0.0.1', synapse_workers: [SYNC] }, px: { ansible_host: '10.0.0.9', synapse_main_host: 'm1' } };
    const { work } = await build(hosts, { proxyHost: 'px', vars: { synapse_redis_host: '10.0.0.3' } });
    const text = (find(work, 'px', '/etc/nginx/conf.d/mxplay-matrix.conf')!.plan({ kind: 'none' }) as { diff: { after: string } }).diff.after;
    expect(text).toContain('server 10.0.0.1:8083;');
    expect(find(work, 'm1', '/etc/matrix-synapse/homeserver.signing.key')).toBeUndefined();
  });

  it('a worker setting restarts that worker only; the shared config restarts every process of the host', async () => {
    const { work } = await build(TWO_HOSTS, { vars: { synapse_redis_host: '10.0.0.3' } });
    expect(find(work, 'w1', '/etc/matrix-synapse/workers/sync1.yaml')!.notify).toEqual(['restart synapse worker sync1']);
    expect(find(work, 'w1', '/etc/matrix-synapse/conf.d/workers.yaml')!.notify).toEqual(['restart synapse if its config changed']);
    // With workers (each reads its own file too) that restart is never skipped as already current.
    const handler = work.find((w) => w.host.name === 'w1')!.plays[0]!.handlers.get('restart synapse if its config changed')!;
    expect(handler.id).toBe('restart matrix-synapse-worker@sync1 matrix-synapse-worker@media1 matrix-synapse-worker@fed1');
    expect(handler.probe).not.toContain('UpToDate');
    expect(find(work, 'w1', 'restart matrix-synapse-worker@sync1 matrix-synapse-worker@media1 matrix-synapse-worker@fed1')).toBeDefined();
    expect(find(work, 'm1', 'restart matrix-synapse')).toBeDefined();
  });

  it('nginx sends sync (by user) and media to the workers, everything else to the main process', async () => {
    const { work } = await build(TWO_HOSTS, { vars: { synapse_redis_host: '10.0.0.3' } });
    const conf = find(work, 'm1', '/etc/nginx/conf.d/mxplay-matrix.conf')!;
    const text = (conf.plan({ kind: 'none' }) as { diff: { after: string } }).diff.after;
    expect(text).toMatch(/upstream mxplay_synapse_client_sync \{\n {4}hash \$mxplay_sync_key consistent;\n {4}server 10\.0\.0\.2:8083;\n\}/);
    expect(text).toContain('upstream mxplay_synapse_media {\n    server 10.0.0.2:8085;\n}');
    expect(text).toContain('location ~ "^/_matrix/client/(r0|v3)/sync$" {\n        proxy_pass http://mxplay_synapse_client_sync;');
    expect(text).toContain('location ~ "^/_matrix/media/" {\n        proxy_pass http://mxplay_synapse_media;');
    expect(text.indexOf('location ~ "^/_matrix/client/(r0|v3)/sync$"')).toBeLessThan(text.indexOf('location /_matrix/ {'));
  });

  it('apache sends them too, and refuses what it cannot balance', async () => {
    const { work } = await build(TWO_HOSTS, { vars: { synapse_redis_host: '10.0.0.3' }, proxy: 'apache' });
    const text = (find(work, 'm1', '/etc/apache2/sites-enabled/mxplay-matrix.conf')!.plan({ kind: 'none' }) as { diff: { after: string } }).diff.after;
    expect(text).toContain('ProxyPassMatch "^(/_matrix/client/(r0|v3)/sync)$" "http://10.0.0.2:8083$1" nocanon');
    expect(text).toContain('ProxyPassMatch "^(/_matrix/media/.*)" "http://10.0.0.2:8085$1" nocanon');
    expect(text.indexOf('ProxyPassMatch')).toBeLessThan(text.indexOf('ProxyPass /_matrix '));
    const two = { ...TWO_HOSTS, w1: { ...TWO_HOSTS.w1, synapse_workers: [SYNC, { ...SYNC, name: 'sync2', port: 8084 }] } };
    const errs = await errors(two, { vars: { synapse_redis_host: '10.0.0.3' }, proxy: 'apache' });
    expect(errs).toEqual([expect.stringMatching(/host m1, role apache, key synapse_workers: client_sync has 2 workers, but Apache cannot keep one user's requests on one of them/)]);
  });
});

describe('synapse workers: what Synapse would refuse, or what could not work, is refused naming host and key', () => {
  const w1 = (workers: unknown[], extra: Record<string, unknown> = {}) => ({
    m1: { ansible_host: '10.0.0.1' },
    w1: { ansible_host: '10.0.0.2', synapse_main_host: 'm1', synapse_workers: workers, ...extra },
  });
  it.each<[string, Hosts, RegExp]>([
    ['a worker name used twice', { m1: { ansible_host: '10.0.0.1', synapse_workers: [SYNC] }, w1: { ansible_host: '10.0.0.2', synapse_main_host: 'm1', synapse_workers: [{ ...SYNC, port: 9000 }] } },
      /host w1, role synapse, key synapse_workers: worker name 'sync1' is used twice \(hosts m1 and w1\)/],
    ['two writers of the typing stream', w1([{ name: 'tw1', type: 'stream_writer', streams: ['typing'], port: 9001 }, { name: 'tw2', type: 'stream_writer', streams: ['typing'], port: 9002 }]),
      /key synapse_workers: stream 'typing' has one writer only in Synapse, but tw1 \(w1\) and tw2 \(w1\) both write it/],
    ['a generic worker serving nothing', w1([{ name: 'g1', type: 'generic', port: 9001 }]), /host w1, role synapse, key synapse_workers: synapse_workers\[0\]\.serves: a generic worker must serve at least one request group/],
    ['a worker the proxy must reach without a port', w1([{ name: 'g1', type: 'generic', serves: ['client_sync'] }]), /synapse_workers\[0\]\.port: a generic worker needs a port/],
    ['an unknown request group', w1([{ name: 'g1', type: 'generic', serves: ['client_writes'], port: 9001 }]), /synapse_workers\[0\]\.serves\[0\]/],
    ['a port taken twice on one host', w1([SYNC, { ...MEDIA, port: 8083 }]), /port 8083 on host w1 is used by worker sync1 and worker media1/],
    ['the main process port taken by a worker', { m1: { ansible_host: '10.0.0.1', synapse_workers: [{ ...SYNC, port: 8008 }] } }, /port 8008 on host m1 is used by the main process \(synapse_http_port\) and worker sync1/],
    ['media workers on two hosts', { m1: { ansible_host: '10.0.0.1', synapse_workers: [MEDIA] }, w1: { ansible_host: '10.0.0.2', synapse_main_host: 'm1', synapse_workers: [{ ...MEDIA, name: 'media2' }] } }, /media repository workers must share one host/],
    ['two background-task workers', w1([{ name: 'bg1', type: 'background_tasks' }, { name: 'bg2', type: 'background_tasks' }]), /key synapse_workers: only one worker may run the background tasks: bg1, bg2/],
    ['a main host not in the inventory', w1([SYNC], { synapse_main_host: 'mx' }), /host w1, role synapse, key synapse_main_host: synapse_main_host 'mx' is not a host of the inventory/],
    ['a worker host without an address', { m1: { ansible_host: '10.0.0.1' }, w1: { ansible_host: 'w1.internal', synapse_main_host: 'm1', synapse_workers: [SYNC] } }, /host w1, role synapse, key synapse_internal_address: the homeserver's processes run on several hosts/],
    ['a host naming a main host but running no worker', { m1: { ansible_host: '10.0.0.1' }, w1: { ansible_host: '10.0.0.2', synapse_main_host: 'm1' } }, /host w1, role synapse, key synapse_workers: this host names m1 as its main host \(synapse_main_host\) but runs no worker/],
    ['workers on several hosts without Redis', w1([SYNC]), /key synapse_redis_host: workers on several hosts meet through Redis/],
    ['a shared setting that differs on the worker host', w1([SYNC], { synapse_max_upload_size: '10M' }),
      /host w1, role synapse, key synapse_max_upload_size: synapse_max_upload_size differs between this host \(set\) and m1, the main host \(not set\): the homeserver's processes share one config/],
    ['a key mxplay writes itself in settings', w1([{ ...SYNC, settings: { worker_listeners: [] } }]), /synapse_workers\[0\]\.settings: mxplay writes worker_app, worker_name, worker_listeners, enable_media_repo itself/],
    ['a different master secret on the worker host', w1([SYNC], { mxplay_master_secret: 'another-master-secret-0123' }), /host w1, role synapse, key mxplay_master_secret: 'synapse_db_password' is shared with host m1, whose mxplay_master_secret differs/],
  ])('%s', async (_n, hosts, want) => {
    const errs = await errors(hosts, /Redis/.test(want.source) ? {} : { vars: { synapse_redis_host: '10.0.0.3' } });
    expect(errs.some((e) => want.test(e)), errs.join('\n')).toBe(true);
  });

  it('the topology set only as a play var of one host is refused: the other hosts could not see it', async () => {
    const cwd = writeTree(tempDir(), {
      'site.yml': '- hosts: all\n  vars:\n    synapse_workers: [{name: sync1, type: generic, serves: [client_sync], port: 8083}]\n  roles: [synapse]\n',
      'inventory/hosts.yml': JSON.stringify({ all: { vars: COMMON, hosts: { m1: {} } } }),
    });
    await expect(buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() }))
      .rejects.toThrow(/host m1, role synapse, key synapse_workers: synapse_workers must be set in the inventory/);
  });
});
