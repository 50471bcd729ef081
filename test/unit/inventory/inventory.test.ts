import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { loadInventory, resolveInventoryPath } from '../../../src/inventory/inventory.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** An inventory where every level sets `level`, and each level sets one key only it has. */
const HOSTS = `all:
  vars:
    level: all
    from_all: 1
  children:
    matrix:
      vars:
        level: matrix
        from_matrix: 1
      children:
        synapse:
          vars:
            level: synapse
          hosts:
            hs1:
              level: host-inline
              ansible_host: 10.0.0.1
            hs2:
    db:
      hosts:
        pg1:
`;

function fixture(extra: Record<string, string> = {}) {
  return writeTree(tempDir(), { 'inventory/prod/hosts.yml': HOSTS, ...extra });
}

describe('loadInventory: groups', () => {
  it('children nest: a host is in its group and every ancestor, all first, parents before children', () => {
    const inv = loadInventory('prod', fixture());
    expect([...inv.hosts.keys()]).toEqual(['hs1', 'hs2', 'pg1']);
    expect(inv.hosts.get('hs1')!.groups).toEqual(['all', 'matrix', 'synapse']);
    expect(inv.hosts.get('pg1')!.groups).toEqual(['all', 'db']);
    expect([...inv.groups.get('matrix')!]).toEqual(['hs1', 'hs2']);
    expect([...inv.groups.get('all')!].sort()).toEqual(['hs1', 'hs2', 'pg1']);
  });

  it('a host listed under several groups is one host in all of them, inline vars merged', () => {
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'web:\n  hosts:\n    h1:\n      a: 1\ndb:\n  hosts:\n    h1:\n      b: 2\n',
    });
    const inv = loadInventory('hosts.yml', cwd);
    expect(inv.hosts.size).toBe(1);
    expect(inv.hosts.get('h1')!.groups).toEqual(['all', 'db', 'web']);
    expect(inv.hosts.get('h1')!.vars).toMatchObject({ a: 1, b: 2 });
  });

  it('a group that is its own ancestor is an error', () => {
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'a:\n  children:\n    b:\n      children:\n        a:\n          hosts:\n            h1:\n',
    });
    expect(() => loadInventory('hosts.yml', cwd)).toThrow(/its own ancestor/);
  });

  it.each([
    ['unknown group key', 'all:\n  hots:\n    h1:\n', /unknown key in group all/, 2, 'hots'],
    ['hosts as a list', 'all:\n  hosts:\n    - h1\n', /hosts of group all must be a mapping/, 2, undefined],
    ['host vars not a mapping', 'all:\n  hosts:\n    h1: 3\n', /host h1: expected a mapping/, 3, undefined],
    ['vars not a mapping', 'web:\n  vars: [1]\n', /vars of group web must be a mapping/, 2, undefined],
  ])('bad inventory: %s → error with file and line', (_n, text, msg, line, key) => {
    const cwd = writeTree(tempDir(), { 'hosts.yml': text });
    let err: UserError | undefined;
    try {
      loadInventory('hosts.yml', cwd);
    } catch (e) {
      err = e as UserError;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toMatch(msg);
    expect(err!.context.file).toMatch(/hosts\.yml$/);
    expect(err!.context.line).toBe(line);
    if (key) expect(err!.context.key).toBe(key);
  });

  it('malformed YAML names file and line', () => {
    const cwd = writeTree(tempDir(), { 'hosts.yml': 'all:\n  hosts:\n    h1: {a: 1\n' });
    expect(() => loadInventory('hosts.yml', cwd)).toThrow(UserError);
    try {
      loadInventory('hosts.yml', cwd);
    } catch (e) {
      expect((e as UserError).message).toMatch(/^malformed YAML/);
      expect((e as UserError).context.line).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('loadInventory: variable precedence', () => {
  const layered = () =>
    fixture({
      'inventory/prod/group_vars/all.yml': 'level: gv-all\nfrom_gv_all: 1\n',
      'inventory/prod/group_vars/matrix.yml': 'level: gv-matrix\n',
      'inventory/prod/group_vars/synapse/10-main.yml': 'level: gv-synapse-10\n',
      'inventory/prod/group_vars/synapse/20-more.yaml': 'level: gv-synapse-20\nonly_gv_synapse: x\n',
      'inventory/prod/group_vars/synapse/README.md': 'level: not-yaml\n',
      'inventory/prod/host_vars/hs1.yml': 'level: host_vars\n',
    });

  it('all < parent < child < group_vars files (all < parent < child, in name order) < host inline < host_vars', () => {
    const cwd = layered();
    const h = (name: string) => loadInventory('prod', cwd).hosts.get(name)!;
    expect(h('hs1').vars.level).toBe('host_vars');
    expect(h('hs2').vars.level).toBe('gv-synapse-20');
    expect(h('pg1').vars.level).toBe('gv-all');
    expect(h('hs1').vars).toMatchObject({ from_all: 1, from_matrix: 1, from_gv_all: 1, only_gv_synapse: 'x', ansible_host: '10.0.0.1' });
    expect(h('pg1').vars.from_matrix).toBeUndefined();
  });

  it('without the files, inline levels decide: host inline > child > parent > all', () => {
    const inv = loadInventory('prod', fixture());
    expect(inv.hosts.get('hs1')!.vars.level).toBe('host-inline');
    expect(inv.hosts.get('hs2')!.vars.level).toBe('synapse');
    expect(inv.hosts.get('pg1')!.vars.level).toBe('all');
  });

  it('group_vars/all.yml beats a child group\'s inline vars (Ansible: inventory group vars < group_vars files)', () => {
    const inv = loadInventory('prod', fixture({ 'inventory/prod/group_vars/all.yml': 'level: gv-all\n' }));
    expect(inv.hosts.get('hs2')!.vars.level).toBe('gv-all');
  });

  it('host inline vars beat every group_vars file', () => {
    const inv = loadInventory('prod', fixture({ 'inventory/prod/group_vars/synapse.yml': 'level: gv-synapse\n' }));
    expect(inv.hosts.get('hs1')!.vars.level).toBe('host-inline');
    expect(inv.hosts.get('hs2')!.vars.level).toBe('gv-synapse');
  });

  it('origins name the file and line of the winning value, and its layer', () => {
    const cwd = layered();
    const hs1 = loadInventory('prod', cwd).hosts.get('hs1')!;
    expect(hs1.origins.level).toEqual({ file: join(cwd, 'inventory/prod/host_vars/hs1.yml'), line: 1, layer: 'host_vars/hs1' });
    expect(hs1.origins.only_gv_synapse).toEqual({ file: join(cwd, 'inventory/prod/group_vars/synapse/20-more.yaml'), line: 2, layer: 'group_vars/synapse' });
    expect(hs1.origins.from_matrix).toEqual({ file: join(cwd, 'inventory/prod/hosts.yml'), line: 9, layer: 'group matrix (inventory)' });
    expect(hs1.origins.ansible_host).toEqual({ file: join(cwd, 'inventory/prod/hosts.yml'), line: 17, layer: 'host hs1 (inventory)' });
  });

  it('a group_vars file that is not a mapping is an error naming it', () => {
    const cwd = fixture({ 'inventory/prod/group_vars/db.yml': '- a\n- b\n' });
    expect(() => loadInventory('prod', cwd)).toThrow(/expected a mapping of variables/);
  });

  it('an empty group_vars file is fine', () => {
    const inv = loadInventory('prod', fixture({ 'inventory/prod/group_vars/db.yml': '# nothing yet\n' }));
    expect(inv.hosts.get('pg1')!.vars.level).toBe('all');
  });
});

describe('-i resolution', () => {
  it.each([
    ['NAME → inventory/NAME.yml', { 'inventory/prod.yml': 'all: {}' }, 'prod', 'inventory/prod.yml'],
    ['NAME → inventory/NAME.yaml', { 'inventory/prod.yaml': 'all: {}' }, 'prod', 'inventory/prod.yaml'],
    ['NAME → inventory/NAME/', { 'inventory/prod/hosts.yml': 'all: {}' }, 'prod', 'inventory/prod'],
    ['.yml wins over the folder', { 'inventory/prod.yml': 'all: {}', 'inventory/prod/hosts.yml': 'all: {}' }, 'prod', 'inventory/prod.yml'],
    ['a plain path', { 'elsewhere/hosts.yml': 'all: {}' }, 'elsewhere/hosts.yml', 'elsewhere/hosts.yml'],
  ])('%s', (_n, files, arg, want) => {
    const cwd = writeTree(tempDir(), files);
    expect(resolveInventoryPath(arg, cwd)).toBe(join(cwd, want));
  });

  it('not found: lists what was tried (inventory/NAME.ini too, since INI inventories are read)', () => {
    const cwd = tempDir();
    expect(() => resolveInventoryPath('prod', cwd)).toThrow(/inventory not found: tried inventory\/prod\.yml, inventory\/prod\.yaml, inventory\/prod\.ini, inventory\/prod, prod/);
  });

  it('a folder without any inventory file is an error (any file of the folder is one, as in Ansible, not only hosts.yml)', () => {
    const cwd = writeTree(tempDir(), { 'inventory/prod/group_vars/all.yml': 'a: 1\n' });
    expect(() => loadInventory('prod', cwd)).toThrow(/no inventory file in this folder/);
  });

  it('group_vars sit next to a single-file inventory too', () => {
    const cwd = writeTree(tempDir(), { 'inventory/prod.yml': 'all:\n  hosts:\n    h1:\n', 'inventory/group_vars/all.yml': 'x: 1\n' });
    expect(loadInventory('prod', cwd).hosts.get('h1')!.vars.x).toBe(1);
  });
});
