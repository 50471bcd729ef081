import { describe, expect, it } from 'vitest';
import { countChanges, planItems } from '../../../src/engine/plan.ts';
import { serialBatches, pool } from '../../../src/engine/pool.ts';
import { apt } from '../../../src/resources/apt.ts';
import { directory } from '../../../src/resources/directory.ts';
import { file, sha256 } from '../../../src/resources/file.ts';
import { flushHandlers } from '../../../src/resources/flush.ts';
import { service } from '../../../src/resources/service.ts';
import { user } from '../../../src/resources/user.ts';
import { item } from '../helpers.ts';

const aptMissing = { pkgs: { nginx: { status: '', version: '' } } };
const aptInstalled = { pkgs: { nginx: { status: 'ii ', version: '1.22' } } };
const unitMissing = { LoadState: 'not-found' };
const unitRunning = { LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' };

describe('planItems', () => {
  it('a unit not found after an apt install is deferred, naming that apt resource', () => {
    const items = [item(apt({ names: ['nginx'] })), item(service({ name: 'nginx' }))];
    const r = planItems(items, [aptMissing, unitMissing], [undefined, undefined]);
    expect(r.errors).toEqual([]);
    expect(r.items.map((p) => p.status)).toEqual(['change', 'deferred']);
    expect(r.items[1]!.reason).toBe('unit nginx not found; known after apt nginx');
    expect(r.items[1]!.change).toBeUndefined();
  });

  it('prefers the package install over later, unrelated changes as the reason', () => {
    const items = [
      item(apt({ names: ['nginx'] })),
      item(file({ path: '/etc/nginx/nginx.conf', content: 'x' })),
      item(service({ name: 'nginx' })),
    ];
    const r = planItems(items, [aptMissing, { kind: 'none' }, unitMissing], [undefined, undefined, undefined]);
    expect(r.items[2]!.reason).toMatch(/known after apt nginx$/);
  });

  it('names the install of the package the item is about, not merely the latest install', () => {
    const pg = { pkgs: { postgresql: { status: '', version: '' } } };
    const syn = { pkgs: { 'matrix-synapse': { status: '', version: '' } } };
    const items = [
      item(apt({ names: ['postgresql'] })),
      item(apt({ names: ['matrix-synapse'] })),
      item(service({ name: 'postgresql' })),
      item(service({ name: 'matrix-synapse' })),
    ];
    const r = planItems(items, [pg, syn, unitMissing, unitMissing], [undefined, undefined, undefined, undefined]);
    expect(r.items[2]!.reason).toBe('unit postgresql not found; known after apt postgresql');
    expect(r.items[3]!.reason).toBe('unit matrix-synapse not found; known after apt matrix-synapse');
  });

  it('a file owned by a user created earlier in the run is deferred after that user', () => {
    const items = [item(user({ name: 'synapse' })), item(directory({ path: '/var/lib/synapse', owner: 'synapse' }))];
    const r = planItems(items, [{ exists: false }, { kind: 'none', ownerMissing: true }], [undefined, undefined]);
    expect(r.items[1]).toMatchObject({ status: 'deferred', reason: 'user synapse does not exist yet; known after user synapse' });
  });

  it('falls back to the last change when no package/user/group change precedes', () => {
    const items = [item(file({ path: '/etc/a', content: 'x' })), item(service({ name: 'nginx' }))];
    const r = planItems(items, [{ kind: 'none' }, unitMissing], [undefined, undefined]);
    expect(r.items[1]!.reason).toMatch(/known after file \/etc\/a$/);
  });

  it('a deferred item can itself be what a later one waits on', () => {
    const items = [item(apt({ names: ['nginx'] })), item(service({ name: 'nginx' })), item(service.restart('php-fpm'))];
    const r = planItems(items, [aptMissing, unitMissing, unitMissing], [undefined, undefined, undefined]);
    expect(r.items.map((p) => p.status)).toEqual(['change', 'deferred', 'deferred']);
  });

  it('unresolved with no earlier change is an error, not a deferral', () => {
    const items = [item(apt({ names: ['nginx'] })), item(service({ name: 'nginx' }))];
    const r = planItems(items, [aptInstalled, unitMissing], [undefined, undefined]);
    expect(r.items.map((p) => p.status)).toEqual(['ok', 'ok']);
    expect(r.errors).toEqual(['service nginx: unit nginx not found']);
  });

  it('probe errors are reported with the resource label, and do not stop the other items', () => {
    const items = [item(file({ path: '/etc/a', content: 'x' })), item(service({ name: 'nginx' }))];
    const r = planItems(items, [undefined, unitRunning], ['the probe printed nothing', undefined]);
    expect(r.errors).toEqual(['file /etc/a: the probe printed nothing']);
    expect(r.items[1]!.status).toBe('ok');
  });

  it('a failed probe is not a change, so nothing waits on it', () => {
    const items = [item(apt({ names: ['nginx'] })), item(service({ name: 'nginx' }))];
    const r = planItems(items, [undefined, unitMissing], ['boom', undefined]);
    expect(r.errors).toEqual(['apt nginx: boom', 'service nginx: unit nginx not found']);
  });

  it('no-ops are ok, changes carry the planner result, markers are passed through', () => {
    const f = file({ path: '/etc/a', content: 'x' });
    const items = [item(f), item(flushHandlers()), item(file({ path: '/etc/b', content: 'y' }))];
    const same = { kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256('x') };
    const r = planItems(items, [same, undefined, { kind: 'none' }], [undefined, undefined, undefined]);
    expect(r.items.map((p) => p.status)).toEqual(['ok', 'ok', 'change']);
    expect(r.items[2]!.change).toMatchObject({ action: '+', summary: 'create (0644 root:root)' });
    expect(countChanges({ host: 'h', items: r.items, errors: [], pendingHandlers: ['restart x'] })).toBe(2);
  });
});

describe('serialBatches', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  it.each([
    [undefined, [10]],
    [1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
    [3, [3, 3, 3, 1]],
    [20, [10]],
    ['30%', [3, 3, 3, 1]],
    ['50%', [5, 5]],
    ['100%', [10]],
    ['1%', [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], // never an empty batch
  ] as const)('serial %s → batch sizes %j', (serial, sizes) => {
    const b = serialBatches(hosts, serial);
    expect(b.map((x) => x.length)).toEqual(sizes);
    expect(b.flat()).toEqual(hosts); // order kept, nobody lost
  });
  it('no hosts: one empty batch', () => {
    expect(serialBatches([], 2)).toEqual([[]]);
  });
});

describe('pool', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await pool([30, 10, 20, 5, 15], 2, async (ms) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms * 2;
    });
    expect(out).toEqual([60, 20, 40, 10, 30]);
    expect(peak).toBe(2);
  });
});
