import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { InventoryModel, sortGroups } from '../../../src/inventory/model.ts';
import { userErrorOf as errorOf } from '../helpers.ts';

const at = (line: number) => ({ file: 'hosts.ini', line });

describe('InventoryModel: groups as Ansible builds them', () => {
  it('starts with all and ungrouped under it', () => {
    const m = new InventoryModel();
    expect([...m.groups.keys()]).toEqual(['all', 'ungrouped']);
    expect(m.groups.get('all')!.children).toEqual(['ungrouped']);
    expect(m.groups.get('ungrouped')!.parents).toEqual(['all']);
    expect(m.groups.get('all')).toMatchObject({ priority: 1, hosts: [], vars: new Map() });
    expect(m.groups.get('all')).not.toHaveProperty('at');
  });

  it('a group keeps the place it was first declared at', () => {
    const m = new InventoryModel();
    m.group('web');
    m.group('web', at(3));
    m.group('web', at(9));
    expect(m.groups.get('web')!.at).toEqual(at(3));
  });

  it('a child added twice is one edge; a loop is refused where it was written', () => {
    const m = new InventoryModel();
    m.addChild('a', 'b');
    m.addChild('a', 'b');
    m.addChild('b', 'c');
    expect(m.groups.get('a')!.children).toEqual(['b']);
    expect(m.groups.get('b')!.parents).toEqual(['a']);
    const e = errorOf(() => m.addChild('c', 'a', at(7)));
    expect(e.message).toBe('group a cannot be a child of c: it would be its own ancestor (a loop)');
    expect(e.context).toMatchObject(at(7));
    expect(errorOf(() => m.addChild('x', 'x')).message).toMatch(/group x cannot be a child of x/);
    expect([...m.ancestors('c')]).toEqual(['b', 'a']);
  });

  it('diamond-shaped groups: every ancestor once', () => {
    const m = new InventoryModel();
    m.addChild('top', 'l');
    m.addChild('top', 'r');
    m.addChild('l', 'leaf');
    m.addChild('r', 'leaf');
    expect([...m.ancestors('leaf')].sort()).toEqual(['l', 'r', 'top']);
  });
});

describe('InventoryModel: hosts and ports', () => {
  it('the port of the first mention is ansible_port; the same port again is fine', () => {
    const m = new InventoryModel();
    m.addHost('h', 'web', 2222, at(2));
    m.addHost('h', 'db', 2222, at(5));
    m.addHost('h', 'web', undefined, at(6));
    expect(m.hosts.get('h')!.vars.get('ansible_port')).toEqual({ value: 2222, ...at(2) });
    expect(m.groups.get('web')!.hosts).toEqual(['h']);
    expect(m.groups.get('db')!.hosts).toEqual(['h']);
  });

  it('another port later is refused, saying where the first mention is', () => {
    const m = new InventoryModel();
    m.addHost('h', undefined, 2222, at(2));
    const e = errorOf(() => m.addHost('h', undefined, 22, at(8)));
    expect(e.message).toBe('host h: the port 22 written here would be ignored, since the host was first listed at hosts.ini:2 with port 2222 (Ansible takes the port of the first mention only): set ansible_port instead');
    expect(e.context).toMatchObject({ ...at(8), host: 'h' });
    const n = new InventoryModel();
    n.addHost('g', undefined, undefined, { file: 'inv.yml' });
    expect(errorOf(() => n.addHost('g', undefined, 22, at(1))).message).toContain('first listed at inv.yml with no port');
  });
});

describe('ansible_group_priority', () => {
  it.each([[5, 5], ['7', 7], [' -2 ', -2], ['+3', 3], [' 12 ', 12]])('%j → %j', (value, want) => {
    const m = new InventoryModel();
    m.setGroupVar('web', 'ansible_group_priority', value, at(1));
    expect(m.groups.get('web')!.priority).toBe(want);
    expect(m.groups.get('web')!.vars.has('ansible_group_priority')).toBe(false);
  });

  it.each([['high'], [1.5], ['1.5'], [true], ['x1']])('%j is refused', (value) => {
    const e = errorOf(() => new InventoryModel().setGroupVar('web', 'ansible_group_priority', value, at(4)));
    expect(e.message).toBe('ansible_group_priority of group web must be a whole number');
    expect(e.context).toMatchObject({ ...at(4), key: 'ansible_group_priority' });
  });

  it('other group vars are variables, with their place', () => {
    const m = new InventoryModel();
    m.setGroupVar('web', 'port', 80, at(3));
    expect(m.groups.get('web')!.vars.get('port')).toEqual({ value: 80, ...at(3) });
  });
});

describe('reconcile, depths, groupsOf, sortGroups', () => {
  function model() {
    const m = new InventoryModel();
    m.addHost('lone', undefined, undefined, at(1));
    m.addHost('w1', 'web', undefined, at(2));
    m.addHost('both', 'ungrouped', undefined, at(3));
    m.addHost('both', 'db', undefined, at(4));
    m.addHost('kept', 'ungrouped', undefined, at(5));
    m.addChild('prod', 'web');
    m.reconcile();
    return m;
  }

  it('a group without a parent goes under all; a host in no group goes to ungrouped, one in a group leaves it', () => {
    const m = model();
    expect(m.groups.get('all')!.children.sort()).toEqual(['db', 'prod', 'ungrouped']);
    expect(m.groups.get('web')!.parents).toEqual(['prod']);
    expect(m.groups.get('ungrouped')!.hosts).toEqual(['kept', 'lone']);
  });

  it('depth is the longest path from all', () => {
    const m = model();
    m.addChild('db', 'web');
    m.addChild('prod', 'db');
    expect(Object.fromEntries(m.depths())).toEqual({ all: 0, ungrouped: 1, web: 3, db: 2, prod: 1 });
  });

  it('a host is in its groups, their ancestors, and all', () => {
    const m = model();
    expect([...m.groupsOf('w1')].sort()).toEqual(['all', 'prod', 'web']);
    expect([...m.groupsOf('lone')].sort()).toEqual(['all', 'ungrouped']);
    expect([...m.groupsOf('nobody')]).toEqual(['all']);
  });

  it('groups sorted by depth, then priority, then name by code point', () => {
    const m = model();
    m.addChild('all', 'B');
    m.addChild('all', 'a');
    m.setGroupVar('db', 'ansible_group_priority', 0, at(9));
    expect(sortGroups(['web', 'prod', 'a', 'B', 'db', 'all'], m, m.depths())).toEqual(['all', 'db', 'B', 'a', 'prod', 'web']);
  });
});
