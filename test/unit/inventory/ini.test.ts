// The INI inventory format as Ansible's ini plugin reads it (the values below were checked against
// ansible-core 2.14's `ansible-inventory --list`; test/e2e/ansible-inventory.e2e.test.ts compares
// whole inventories with it).
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { readIni, shlexSplit } from '../../../src/inventory/ini.ts';
import { InventoryModel } from '../../../src/inventory/model.ts';
import { pythonLiteral } from '../../../src/inventory/python-literal.ts';

describe('pythonLiteral: ast.literal_eval, else the text', () => {
  it.each<[string, unknown]>([
    ['1', 1],
    ['-5', -5],
    ['+5', 5],
    ['1_000', 1000],
    ['0x1F', 31],
    ['-0x10', -16],
    ['0o17', 15],
    ['0b101', 5],
    ['00', 0],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1e3', 1000],
    ['True', true],
    ['False', false],
    ['None', null],
    ["'0600'", '0600'],
    ['"a b"', 'a b'],
    ["'a' 'b'", 'ab'],
    ["'a\\tb'", 'a\tb'],
    ["r'a\\nb'", 'a\\nb'],
    ["'\\u00e9'", 'é'],
    ["'\\d'", '\\d'],
    ['[1, 2]', [1, 2]],
    ['[1,]', [1]],
    ['(1, 2)', [1, 2]],
    ['(1)', 1],
    ['()', []],
    ['1, 2', [1, 2]],
    ["{'k': [1, 2], 'n': None}", { k: [1, 2], n: null }],
    ['{}', {}],
    ['True # a comment', true],
    ["'x' # comment", 'x'],
  ])('%s → %j', (text, value) => {
    expect(pythonLiteral(text)).toEqual({ kind: 'value', value });
  });

  it.each([
    'yes', 'true', 'TRUE', 'no', 'abc', '0600', '007', 'foo # comment', 'a b', '', '1 + 2', '-x', "f'x'", '1.2.3', '12abc',
    '[1, 2', "'unclosed", 'inf', 'nan', '{a}', '1__0', '--5', "'a' b'x'", '-True',
  ])('%j stays text', (text) => {
    expect(pythonLiteral(text)).toEqual({ kind: 'text' });
  });

  it.each<[string, RegExp]>([
    ['{1, 2}', /a set/],
    ['1+2j', /complex/],
    ['2j', /complex/],
    ["b'ab'", /bytes/],
    ['...', /ellipsis/],
    ['123456789012345678901234567890', /2\^53/],
    ['1e999', /infinite/],
    ['{1: 2}', /key that is not a string/],
    ['set()', /a set/],
    ["'\\N{BULLET}'", /\\N/],
  ])('%s is refused (Ansible would keep a value no variable can carry, or crash listing it)', (text, why) => {
    const r = pythonLiteral(text);
    expect(r.kind).toBe('unsupported');
    expect((r as { why: string }).why).toMatch(why);
  });
});

describe("shlexSplit: Python's shlex.split(line, comments=True)", () => {
  it.each<[string, string[]]>([
    ['h1 a=1 b=2', ['h1', 'a=1', 'b=2']],
    ['h1  a="two words"', ['h1', 'a=two words']],
    ["h1 a='x y' b=\"'1'\"", ['h1', 'a=x y', "b='1'"]],
    ['h1 a=abc#def b=2', ['h1', 'a=abc']],
    ['h1 # all comment', ['h1']],
    ['h1 a="x#y"', ['h1', 'a=x#y']],
    ['h1 a=x\\ y', ['h1', 'a=x y']],
    ['h1 a="q\\"q" b="\\n"', ['h1', 'a=q"q', 'b=\\n']],
    ["h1 a=''", ['h1', 'a=']],
    ['h1 a=', ['h1', 'a=']],
  ])('%s', (line, tokens) => {
    expect(shlexSplit(line)).toEqual(tokens);
  });

  it('an unclosed quote is an error', () => {
    expect(() => shlexSplit('h1 a="x')).toThrow(/no closing quotation/);
  });
});

function read(text: string, model = new InventoryModel()) {
  readIni(text, 'hosts', model);
  model.reconcile();
  return model;
}
const hostVars = (m: InventoryModel, h: string) => Object.fromEntries([...m.hosts.get(h)!.vars].map(([k, e]) => [k, e.value]));
const groupVars = (m: InventoryModel, g: string) => Object.fromEntries([...m.groups.get(g)!.vars].map(([k, e]) => [k, e.value]));

describe('readIni: groups and hosts', () => {
  it('hosts before any section are ungrouped unless a group lists them; children and [all:vars]', () => {
    const m = read('loose\nboth\n[web]\nboth\nw1\n[matrix:children]\nweb\n[matrix]\n[all:vars]\nx=1\n');
    expect(m.groups.get('ungrouped')!.hosts).toEqual(['loose']);
    expect(m.groups.get('web')!.hosts).toEqual(['both', 'w1']);
    expect(m.groups.get('matrix')!.children).toEqual(['web']);
    expect(m.groups.get('all')!.children).toEqual(['ungrouped', 'matrix']);
    expect(groupVars(m, 'all')).toEqual({ x: 1 });
  });

  it('a child group may be declared after the [parent:children] section that names it', () => {
    const m = read('[p:children]\nc\n[c]\nh1\n');
    expect(m.groups.get('p')!.children).toEqual(['c']);
    expect(m.groupsOf('h1')).toEqual(new Set(['c', 'p', 'all']));
  });

  it('inline host vars and [g:vars] values are Python literals (as in ansible-core: the docs say [g:vars] are strings, the code and ansible-inventory say otherwise)', () => {
    const m = read('[web]\nh1 a=1 b=yes c=True d="\'1\'" e="[1, 2]" f=0600\n[web:vars]\nn=42\nt = text # kept\nq = \'x\' # dropped\nb=False\n');
    expect(hostVars(m, 'h1')).toEqual({ a: 1, b: 'yes', c: true, d: '1', e: [1, 2], f: '0600' });
    expect(groupVars(m, 'web')).toEqual({ n: 42, t: 'text # kept', q: 'x', b: false });
  });

  it('ranges and a port: every host, ansible_port from the port, inline vars on each', () => {
    const m = read('[db]\ndb[01:03].example.org:2222 x=1\nlab[a:b]\n');
    expect(m.groups.get('db')!.hosts).toEqual(['db01.example.org', 'db02.example.org', 'db03.example.org', 'laba', 'labb']);
    expect(hostVars(m, 'db02.example.org')).toEqual({ ansible_port: 2222, x: 1 });
  });

  it('an explicit ansible_port on the line wins over the port in the name (as Ansible sets them in that order)', () => {
    expect(hostVars(read('h1:2222 ansible_port=22\n'), 'h1')).toEqual({ ansible_port: 22 });
  });

  it('ansible_group_priority orders the group and is not a variable', () => {
    const m = read('[a]\nh1\n[a:vars]\nansible_group_priority=3\n');
    expect(m.groups.get('a')!.priority).toBe(3);
    expect(groupVars(m, 'a')).toEqual({});
  });

  it('several sources share one model: a group declared by an earlier source takes [g:vars] and children', () => {
    const m = new InventoryModel();
    readIni('[web]\nh1\n', 'a', m);
    readIni('[web:vars]\nx=1\n[p:children]\nweb\n', 'b', m);
    m.reconcile();
    expect(groupVars(m, 'web')).toEqual({ x: 1 });
    expect(m.groups.get('p')!.children).toEqual(['web']);
  });
});

describe('readIni: errors name the file and line', () => {
  it.each<[string, string, RegExp, number]>([
    ['unknown section type', '[web:hosts2]\n', /unknown type hosts2/, 1],
    ['a section with a space', 'h1\n[web servers]\n', /invalid section \[web servers\]/, 2],
    ['[g:vars] of an undeclared group', '[web:vars]\nx=1\n', /\[web:vars\] is for a group no \[web\]/, 1],
    ['a child never declared (the line naming it)', '[p:children]\nc\n', /\[p:children\] names the group c, which no \[c\]/, 2],
    ['a host word without =', '[web]\nh1 x=1 stray\n', /expected key=value after the host name, got 'stray'/, 2],
    ['a vars line without =', '[web]\n[web:vars]\njust text\n', /expected key=value in \[web:vars\]/, 3],
    ['a children line with two names', '[c]\n[p:children]\na b\n', /expected a group name/, 3],
    ['an unclosed quote', '[web]\nh1 x="a\n', /no closing quotation/, 2],
    ['a YAML file', '---\nall:\n', /looks like a YAML file/, 1],
    ['an empty range', '[web]\nw[5:1]\n', /ends before it begins/, 2],
    ['a range without end', '[web]\nw[1:]\n', /has no end/, 2],
    ['a set value', '[web]\nh1 s="{1, 2}"\n', /s=\{1, 2\}: a set is not supported/, 2],
    ['a group that is its own ancestor', '[a:children]\nb\n[b:children]\na\n', /would be its own ancestor/, 4],
    ['a later port for a known host', 'h1\n[web]\nh1:2222\n', /port 2222 written here would be ignored/, 3],
  ])('%s', (_n, text, message, line) => {
    let err: unknown;
    try {
      read(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect((err as UserError).context).toMatchObject({ file: 'hosts', line });
  });
});
