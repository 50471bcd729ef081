import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Host } from '../../../src/inventory/inventory.ts';
import type { HostKeyChecking } from '../../../src/transport/connection.ts';
import { connectionParams, effectiveHostKeyChecking } from '../../../src/transport/params.ts';
import { tempDir } from '../helpers.ts';

const host = (vars: Record<string, unknown>): Host => ({
  name: 'hs1',
  groups: ['all'],
  vars: { ansible_host: '10.0.0.1', ...vars },
  origins: { mxplay_host_key_checking: { file: 'inventory/prod/hosts.yml', line: 7, layer: 'host hs1 (inventory)' } },
});

// No ~/.ssh/config of whoever runs the tests.
beforeEach(() => vi.stubEnv('HOME', tempDir()));
afterEach(() => vi.unstubAllEnvs());

describe('host key checking: the strictest of the command line and the inventory wins', () => {
  type K = HostKeyChecking | undefined;
  it.each<[K, K, HostKeyChecking]>([
    // inventory, command line → used
    [undefined, undefined, 'strict'],
    [undefined, 'off', 'off'],
    [undefined, 'accept-new', 'accept-new'],
    [undefined, 'strict', 'strict'],
    ['off', undefined, 'off'], // the inventory alone applies as before
    ['accept-new', undefined, 'accept-new'],
    ['strict', undefined, 'strict'],
    ['off', 'strict', 'strict'], // the inventory can no longer weaken the command line
    ['off', 'accept-new', 'accept-new'],
    ['accept-new', 'strict', 'strict'],
    ['off', 'off', 'off'],
    ['strict', 'off', 'strict'], // nor can the command line weaken the inventory
    ['strict', 'accept-new', 'strict'],
    ['accept-new', 'off', 'accept-new'],
    ['accept-new', 'accept-new', 'accept-new'],
  ])('inventory %s, --host-key-checking %s → %s', (inv, cli, want) => {
    expect(effectiveHostKeyChecking(inv, cli)).toBe(want);
    const vars = inv ? { mxplay_host_key_checking: inv } : {};
    expect(connectionParams(host(vars), cli ? { hostKeyChecking: cli } : {}).hostKeyChecking).toBe(want);
  });

  it('per host: each host gets the stricter of its own value and the command line', () => {
    const d = { hostKeyChecking: 'accept-new' as const };
    expect(connectionParams(host({ mxplay_host_key_checking: 'off' }), d).hostKeyChecking).toBe('accept-new');
    expect(connectionParams(host({ mxplay_host_key_checking: 'strict' }), d).hostKeyChecking).toBe('strict');
  });

  it('a bad inventory value is an error naming where it was set, whatever the command line', () => {
    expect(() => connectionParams(host({ mxplay_host_key_checking: 'no' }), { hostKeyChecking: 'strict' })).toThrow(
      expect.objectContaining({ message: 'mxplay_host_key_checking must be strict, accept-new or off', context: expect.objectContaining({ file: 'inventory/prod/hosts.yml', line: 7, host: 'hs1' }) }),
    );
  });
});
