// The host_vars file an import writes: secrets as vault values or !env references, never in clear.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { tempDir, writeTree } from '../helpers.ts';
import { parse } from 'yaml';
import { decryptVault, setVaultSecrets } from '../../../src/config/vault.ts';
import { FoundSecret, type RoleImport } from '../../../src/import/model.ts';
import { envName, hostVarsDocument } from '../../../src/import/write.ts';
import { changedKeys, mergeAfterRun } from '../../../src/import/predict.ts';

const hostile = `p'a"s$s{{ x }}\n: #!vault`;
const imports: RoleImport[] = [
  { role: 'postgres', vars: { postgres_users: [{ name: 'app', password: new FoundSecret(undefined, 'a hash only') }] }, kept: [], notImported: [], replacedFiles: [] },
  { role: 'synapse', vars: { synapse_server_name: 'example.org', synapse_db_password: new FoundSecret(hostile, 'conf.d/database.yaml: database.args.password') }, kept: [], notImported: [], replacedFiles: [] },
];

afterEach(() => setVaultSecrets([]));

describe('envName', () => {
  it.each([
    ['hs1', ['synapse_db_password'], 'HS1_SYNAPSE_DB_PASSWORD'],
    ['matrix.example-org', ['postgres_users', 0, 'password'], 'MATRIX_EXAMPLE_ORG_POSTGRES_USERS_0_PASSWORD'],
  ])('%s %j', (host, path, want) => expect(envName(host, path as (string | number)[])).toBe(want));
});

describe('hostVarsDocument', () => {
  it('without a vault password: !env references, the role named above its variables, no secret in the text', () => {
    const { text, secrets } = hostVarsDocument('hs1', imports, (s) => [`${s.length} secrets`]);
    expect(text).not.toContain(hostile.slice(0, 6));
    expect(text).toContain('synapse_db_password: !env HS1_SYNAPSE_DB_PASSWORD');
    expect(text).toContain('password: !env HS1_POSTGRES_USERS_0_PASSWORD');
    expect(text).toMatch(/^# 2 secrets$/m);
    expect(text).toMatch(/# role synapse\nsynapse_server_name: example.org/);
    expect(secrets).toEqual([
      { var: 'postgres_users.0.password', from: 'a hash only', as: 'HS1_POSTGRES_USERS_0_PASSWORD' },
      { var: 'synapse_db_password', from: 'conf.d/database.yaml: database.args.password', as: 'HS1_SYNAPSE_DB_PASSWORD' },
    ]);
  });
  it('with a vault password: a !vault value that decrypts to the exact secret; an unreadable one stays a reference', () => {
    setVaultSecrets([{ id: 'default', password: 'vault pw', source: 'test' }]);
    const { text, secrets } = hostVarsDocument('hs1', imports, () => []);
    expect(text).not.toContain(hostile.slice(0, 6));
    const vaulted = parse(text, { customTags: [{ tag: '!vault', resolve: (s: string) => s }, { tag: '!env', resolve: (s: string) => `env:${s}` }] }) as Record<string, any>;
    expect(decryptVault(vaulted.synapse_db_password, { file: 'x' })).toBe(hostile);
    expect(vaulted.postgres_users[0].password).toBe('env:HS1_POSTGRES_USERS_0_PASSWORD');
    expect(secrets.map((s) => s.as)).toEqual(['HS1_POSTGRES_USERS_0_PASSWORD', 'vault']);
  });
});

describe('text holding Jinja markers', () => {
  it('is written !unsafe, and an inventory reads it back as the same text, never templated', () => {
    const weird = `{{ nope }} {% raw %}x{% endraw %} {# c #}\n'"`;
    const { text } = hostVarsDocument('hs1', [{ role: 'synapse', vars: { synapse_extra_config: { admin_contact: weird, n: 1 } }, kept: [], notImported: [], replacedFiles: [] }], () => []);
    expect(text).toContain('admin_contact: !unsafe');
    const d = tempDir();
    writeTree(d, { 'inv/hosts.yml': 'all:\n  hosts:\n    hs1:\n', 'inv/host_vars/hs1.yml': text });
    const inv = loadInventory(join(d, 'inv'));
    expect(inv.hosts.get('hs1')!.vars.synapse_extra_config).toEqual({ admin_contact: weird, n: 1 });
    expect(inv.literalValues).toEqual([weird]);
  });
});

describe('mergeAfterRun and changedKeys', () => {
  const D = '/etc/matrix-synapse/conf.d/';
  const files = [
    { path: '/etc/matrix-synapse/homeserver.yaml', data: { a: 1, listeners: ['stock'] } },
    { path: `${D}b.yaml`, data: { listeners: ['mine'], x: 1 } },
    { path: `${D}z.yaml`, data: { a: 2 } },
  ];
  it('merges as Synapse does: homeserver.yaml first, then conf.d by name; replaced and removed files gone', () => {
    const roles = new Map<string, Record<string, unknown> | null>([[`${D}listeners.yaml`, { listeners: ['role'] }], [`${D}z.yaml`, null]]);
    const after = mergeAfterRun(files, roles, new Set([`${D}b.yaml`]));
    expect(after).toEqual({ a: 1, listeners: ['role'] });
    expect(changedKeys({ a: 2, listeners: ['mine'], x: 1 }, after)).toEqual(['a', 'listeners', 'x']);
  });
  it('ignores key order inside values', () => {
    expect(changedKeys({ k: { a: 1, b: [1, { c: 2, d: 3 }] } }, { k: { b: [1, { d: 3, c: 2 }], a: 1 } })).toEqual([]);
  });
});
