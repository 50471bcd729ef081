// The synapse role's rate limits, outbound allow list and trusted key servers: what each value
// writes (read back as Synapse's PyYAML reads it), and what is refused before any host is
// contacted, naming host, role and key. Built with the real engine from an inventory.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const BASE = {
  mxplay_master_secret: 'unit-master-secret-0123',
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  synapse_package_source: 'debian',
};
const CONF = '/etc/matrix-synapse/conf.d';

async function build(vars: Record<string, unknown>) {
  const cwd = writeTree(tempDir(), {
    'site.yml': '- hosts: all\n  roles: [synapse]\n',
    'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify({ ...BASE, ...vars })}\n`,
  });
  return buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
}

async function errors(vars: Record<string, unknown>): Promise<string[]> {
  return userErrorsOf(build(vars));
}

/** The fragment's text as a plan on a bare host would write it; undefined when it is removed. */
async function fragmentText(vars: Record<string, unknown>, name: string): Promise<string | undefined> {
  const works = await build(vars);
  const r = works[0]!.plays[0]!.items.map((i) => i.resource).find((x) => x.id === `${CONF}/${name}.yaml`);
  expect(r, `${name}.yaml is a resource of the role`).toBeDefined();
  const p = r!.plan({ kind: 'none' } as never) as { diff?: { after?: string | null } } | null;
  return p?.diff?.after ?? undefined;
}

/** As Synapse reads it: PyYAML (YAML 1.1), not the writer's own parser. */
function pyYaml(text: string): any {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const L = (per_second: number, burst_count: number) => ({ per_second, burst_count });

describe('synapse rate limits: one rate_limits fragment, only the limits given', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown> | undefined]>([
    ['none given: no fragment (Synapse keeps its defaults)', {}, undefined],
    ['rc_login with all its parts', { synapse_rc_login: { address: L(10, 100), account: L(5, 50), failed_attempts: L(1, 10) } },
      { rc_login: { address: L(10, 100), account: L(5, 50), failed_attempts: L(1, 10) } }],
    ['rc_login with one part: the others are not written', { synapse_rc_login: { address: L(0.5, 20) } }, { rc_login: { address: L(0.5, 20) } }],
    ['the single limiters', { synapse_rc_message: L(100, 1000), synapse_rc_registration: L(0.17, 3), synapse_rc_room_creation: L(1, 50) },
      { rc_message: L(100, 1000), rc_registration: L(0.17, 3), rc_room_creation: L(1, 50) }],
    ['rc_joins local and remote', { synapse_rc_joins: { local: L(1, 20), remote: L(0.1, 5) } }, { rc_joins: { local: L(1, 20), remote: L(0.1, 5) } }],
    // JavaScript would print 1e-7 or 1e+21, which PyYAML reads as strings: the bounds keep the numbers plain.
    ['the smallest and largest numbers stay numbers to PyYAML', { synapse_rc_message: L(0.000001, 1e9) }, { rc_message: L(0.000001, 1e9) }],
  ])('%s', async (_what, vars, want) => {
    const text = await fragmentText(vars, 'rate_limits');
    if (want === undefined) return expect(text).toBeUndefined();
    expect(text).toMatch(/^# managed by mxplay, role synapse: owns rc_/);
    expect(pyYaml(text!)).toEqual(want);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an unknown part of rc_login', { synapse_rc_login: { adress: L(1, 1) } }, 'synapse_rc_login', /adress/],
    ['an unknown key of a limiter', { synapse_rc_message: { per_second: 1, burst_count: 2, burst: 3 } }, 'synapse_rc_message', /burst/],
    ['a limiter without burst_count', { synapse_rc_message: { per_second: 1 } }, 'synapse_rc_message', /burst_count/],
    ['zero per_second', { synapse_rc_room_creation: L(0, 10) }, 'synapse_rc_room_creation', /per_second/],
    ['a negative per_second', { synapse_rc_registration: L(-1, 10) }, 'synapse_rc_registration', /per_second/],
    ['per_second too small to write as a plain number', { synapse_rc_message: L(1e-7, 10) }, 'synapse_rc_message', /per_second/],
    ['a fractional burst_count (Synapse would cut it)', { synapse_rc_message: L(1, 2.5) }, 'synapse_rc_message', /burst_count/],
    ['a number given as text', { synapse_rc_message: { per_second: '1', burst_count: 10 } }, 'synapse_rc_message', /per_second/],
    ['a YAML special as a number', { synapse_rc_message: { per_second: '.inf', burst_count: 10 } }, 'synapse_rc_message', /per_second/],
    ['rc_joins with no part', { synapse_rc_joins: {} }, 'synapse_rc_joins', /at least one of local, remote/],
    ['rc_joins with an unknown part', { synapse_rc_joins: { local: L(1, 1), per_room: L(1, 1) } }, 'synapse_rc_joins', /per_room/],
  ])('refuses %s, naming the key', async (_what, vars, key, msg) => {
    const errs = await errors(vars);
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs.join('\n')).toMatch(new RegExp(`host m1, role synapse, key ${key}: `));
    expect(errs.join('\n')).toMatch(msg);
  });
});

describe('synapse outbound allow list (ip_range_whitelist)', () => {
  it('unset: no fragment, Synapse blocks private addresses as by default', async () => {
    expect(await fragmentText({}, 'federation')).toBeUndefined();
  });

  it('networks and addresses, IPv4 and IPv6, under the key Synapse 1.160 reads', async () => {
    const list = ['10.231.0.0/24', '192.168.1.1', 'fd00:1::/64', '2001:db8::5'];
    expect(pyYaml((await fragmentText({ synapse_ip_range_whitelist: list }, 'federation'))!)).toEqual({ ip_range_whitelist: list });
  });

  it.each([
    ['10.231.0.0/33'],
    ['10.0.0.0/8\nip_range_blacklist: []'],
    ['10.0.0.0/8 # all'],
    ['*'],
    ['lab.test'],
    ['{{ lan }}'],
    [''],
  ])('refuses %j', async (bad) => {
    const errs = await errors({ synapse_ip_range_whitelist: ['10.0.0.1', bad] });
    // A template is evaluated first (Ansible's semantics) and fails there too.
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs.join('\n')).toMatch(/host m1, role synapse, key synapse_ip_range_whitelist: synapse_ip_range_whitelist\[1\]: an IPv4 or IPv6 address or network \(CIDR\)/);
  });
});

describe('synapse trusted key servers', () => {
  const KEY = 'Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw';

  it.each<[string, Record<string, unknown>, unknown[]]>([
    ["unset: matrix.org, Synapse's own default, written out (else Synapse warns at every start)", {}, [{ server_name: 'matrix.org' }]],
    ['[]: no notary; each server is asked for its own keys', { synapse_trusted_key_servers: [] }, []],
    ['a notary with its key', { synapse_trusted_key_servers: [{ server_name: 'notary.example.org', verify_keys: { 'ed25519:a_Abc1': KEY } }] },
      [{ server_name: 'notary.example.org', verify_keys: { 'ed25519:a_Abc1': KEY } }]],
    ['accept_keys_insecurely is passed on', { synapse_trusted_key_servers: [{ server_name: 'n.example.org:8448', accept_keys_insecurely: true }] },
      [{ server_name: 'n.example.org:8448', accept_keys_insecurely: true }]],
  ])('%s', async (_what, vars, want) => {
    expect(pyYaml((await fragmentText(vars, 'key_servers'))!)).toEqual({ trusted_key_servers: want, suppress_key_server_warning: true });
  });

  it('the server fragment no longer owns suppress_key_server_warning (one owner per key)', async () => {
    expect(pyYaml((await fragmentText({}, 'server'))!)).not.toHaveProperty('suppress_key_server_warning');
  });

  it.each<[string, unknown, RegExp]>([
    ['a name with a quote and a newline', [{ server_name: "matrix.org'\nsuppress_key_server_warning: false" }], /synapse_trusted_key_servers\[0\]\.server_name: a server name like/],
    ['a template', [{ server_name: '{{ notary }}' }], /synapse_trusted_key_servers\[0\]\.server_name: a server name like/],
    ['an unknown key', [{ server_name: 'matrix.org', verify_key: {} }], /synapse_trusted_key_servers\[0\]\.verify_key: unknown key; did you mean verify_keys\?/],
    ['a key id of another algorithm', [{ server_name: 'matrix.org', verify_keys: { 'rsa:1': KEY } }], /synapse_trusted_key_servers\[0\]\.verify_keys\.rsa:1: a key id like ed25519:auto/],
    ['a key that is not base64 of 32 bytes', [{ server_name: 'matrix.org', verify_keys: { 'ed25519:auto': 'abc"\n' } }], /synapse_trusted_key_servers\[0\]\.verify_keys\.ed25519:auto: an ed25519 public key in base64/],
    ['a bare name instead of an object', ['matrix.org'], /synapse_trusted_key_servers\[0\]: .*expected object/],
    ['a map instead of a list', { server_name: 'matrix.org' }, /synapse_trusted_key_servers: /],
  ])('refuses %s', async (_what, value, msg) => {
    const errs = await errors({ synapse_trusted_key_servers: value });
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs.join('\n')).toMatch(/host m1, role synapse, key synapse_trusted_key_servers/);
    expect(errs.join('\n')).toMatch(msg);
  });
});

describe('hostile values that are valid stay data in every new fragment', () => {
  it('a server name with YAML specials is one string to PyYAML', async () => {
    // Server names are host names, so a hostile one is refused above; key ids are the only free text.
    const vars = { synapse_trusted_key_servers: [{ server_name: 'yes', verify_keys: { 'ed25519:on': 'A'.repeat(43) } }, { server_name: '1.5' }] };
    expect(pyYaml((await fragmentText(vars, 'key_servers'))!).trusted_key_servers).toEqual([
      { server_name: 'yes', verify_keys: { 'ed25519:on': 'A'.repeat(43) } }, { server_name: '1.5' },
    ]);
  });
});
