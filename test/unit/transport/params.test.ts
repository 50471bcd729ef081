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

describe('access variables: read, or refused with the variable named', () => {
  const withOrigins = (vars: Record<string, unknown>): Host => ({
    name: 'hs1',
    groups: ['all'],
    vars: { ansible_host: '10.0.0.1', ...vars },
    origins: Object.fromEntries(Object.keys(vars).map((k) => [k, { file: 'inventory/prod/hosts.yml', line: 9, layer: 'host hs1 (inventory)' }])),
  });
  const ctx = (key: string) => expect.objectContaining({ context: expect.objectContaining({ file: 'inventory/prod/hosts.yml', line: 9, host: 'hs1', key }) });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['passwords (and their older names)', { ansible_password: 'pw1-secret', ansible_become_password: 'pw2-secret' }, { password: 'pw1-secret', becomePassword: 'pw2-secret' }],
    ['ansible_ssh_pass / ansible_become_pass', { ansible_ssh_pass: 'a-secret', ansible_become_pass: 'b-secret' }, { password: 'a-secret', becomePassword: 'b-secret' }],
    ['become user and method', { ansible_become: true, ansible_become_user: 'postgres', ansible_become_method: 'sudo' }, { become: true, becomeUser: 'postgres' }],
    ['ansible_ssh_common_args', { ansible_ssh_common_args: '-o ProxyJump=gw -o ControlMaster=auto' }, { ssh: expect.objectContaining({ options: ['ProxyJump=gw'] }) }],
    ['StrictHostKeyChecking=no in the args weakens only as the inventory can', { ansible_ssh_common_args: '-o StrictHostKeyChecking=no' }, { hostKeyChecking: 'off' }],
    ['ansible_ssh_user / ansible_ssh_port', { ansible_ssh_user: 'old', ansible_ssh_port: 2200 }, { user: 'old', port: 2200 }],
  ])('%s', (_n, vars, want) => {
    expect(connectionParams(withOrigins(vars))).toMatchObject(want);
  });

  it('the command line fills what the inventory leaves out, never more', () => {
    const d = { user: 'cli', password: 'cli-pass', becomePassword: 'cli-become', jump: 'gw' };
    expect(connectionParams(withOrigins({}), d)).toMatchObject({ user: 'cli', password: 'cli-pass', becomePassword: 'cli-become', ssh: expect.objectContaining({ options: ['ProxyJump=gw'] }) });
    expect(connectionParams(withOrigins({ ansible_user: 'inv', ansible_become_password: 'inv-become' }), d)).toMatchObject({ user: 'inv', becomePassword: 'inv-become' });
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['become method', { ansible_become_method: 'su' }, 'ansible_become_method', /ansible_become_method su is not supported: mxplay becomes another user with sudo/],
    ['become user', { ansible_become_user: 'root; rm -rf /' }, 'ansible_become_user', /ansible_become_user must be a user name/],
    ['missing key', { ansible_ssh_private_key_file: '/nonexistent/id_ed25519' }, 'ansible_ssh_private_key_file', /ansible_ssh_private_key_file: the private key \/nonexistent\/id_ed25519 does not exist/],
    ['unsupported ssh args', { ansible_ssh_common_args: '-o ForwardAgent=yes' }, 'ansible_ssh_common_args', /ansible_ssh_common_args: '-o ForwardAgent=yes' is not supported/],
    ['a bad ProxyJump in the args', { ansible_ssh_common_args: '-J "a b"' }, 'ansible_ssh_common_args', /not a jump host/],
  ])('%s', (_n, vars, key, msg) => {
    expect(() => connectionParams(withOrigins(vars))).toThrow(msg);
    expect(() => connectionParams(withOrigins(vars))).toThrow(ctx(key));
  });

  it('--private-key and --jump errors name the option', () => {
    expect(() => connectionParams(withOrigins({}), { privateKey: '/nope/key' })).toThrow(/--private-key: the private key \/nope\/key does not exist/);
  });
});
