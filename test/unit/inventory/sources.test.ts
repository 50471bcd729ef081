// Inventory sources as Ansible takes them (INI and YAML files, folders, several -i, host lists),
// what mxplay refuses instead of reading silently otherwise, and the table of ansible_*/mxplay_*
// variables (src/inventory/connection-vars.ts).
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError, UserErrors } from '../../../src/errors.ts';
import { ansibleBoolean, checkReservedName, checkReservedValue, RESERVED_VARS } from '../../../src/inventory/connection-vars.ts';
import { ansibleListShape, inventoryInputFiles, loadInventory } from '../../../src/inventory/inventory.ts';
import { tempDir, writeTree } from '../helpers.ts';

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.toString());
    if (e instanceof UserError) return [e.toString()];
    throw e;
  }
  return [];
}

describe('sources', () => {
  it('an INI file by name (-i prod → inventory/prod.ini), typed as Ansible types it', () => {
    const cwd = writeTree(tempDir(), { 'inventory/prod.ini': '[web]\nw1 ansible_port=2222 ansible_become=yes\n' });
    const w1 = loadInventory('prod', cwd).hosts.get('w1')!;
    expect(w1.vars).toEqual({ ansible_port: 2222, ansible_become: 'yes' });
    expect(w1.groups).toEqual(['all', 'web']);
    expect(w1.origins.ansible_port).toEqual({ file: join(cwd, 'inventory/prod.ini'), line: 2, layer: 'host w1 (inventory)' });
  });

  it('a file without extension is YAML if it reads as a YAML inventory, else INI (as Ansible tries them)', () => {
    const cwd = writeTree(tempDir(), { 'a/hosts': 'all:\n  hosts:\n    y1:\n', 'b/hosts': '[g]\ni1\n' });
    expect([...loadInventory('a/hosts', cwd).hosts.keys()]).toEqual(['y1']);
    expect([...loadInventory('b/hosts', cwd).hosts.keys()]).toEqual(['i1']);
  });

  it('a folder: every file in name order (YAML and INI), README.md and the like skipped, group_vars next to it', () => {
    const cwd = writeTree(tempDir(), {
      'inventory/prod/10-hosts.yml': 'all:\n  children:\n    web:\n      hosts:\n        w1:\n',
      'inventory/prod/20-more': '[db]\nd1\n[web:vars]\nfrom_ini=1\n',
      'inventory/prod/README.md': 'notes\n',
      'inventory/prod/old.yml.bak': 'junk: [\n',
      'inventory/prod/group_vars/web.yml': 'x: 1\n',
    });
    const inv = loadInventory('prod', cwd);
    expect([...inv.hosts.keys()]).toEqual(['w1', 'd1']);
    expect(inv.hosts.get('w1')!.vars).toEqual({ from_ini: 1, x: 1 });
    expect(inventoryInputFiles(inv).map((f) => f.slice(cwd.length + 1))).toEqual([
      'inventory/prod/10-hosts.yml', 'inventory/prod/20-more', 'inventory/prod/group_vars/web.yml',
    ]);
  });

  it('several -i: merged in order, the later source wins for the same variable; each source has its own group_vars', () => {
    const cwd = writeTree(tempDir(), {
      'a/hosts.yml': 'all:\n  hosts:\n    h1: { v: a, only_a: 1 }\n',
      'a/group_vars/all.yml': 'g: a\n',
      'b/hosts.ini': 'h1 v=b\nh2\n',
      'b/group_vars/all.yml': 'g: b\n',
    });
    const inv = loadInventory(['a', 'b/hosts.ini'], cwd);
    expect([...inv.hosts.keys()]).toEqual(['h1', 'h2']);
    expect(inv.hosts.get('h1')!.vars).toEqual({ v: 'b', only_a: 1, g: 'b' });
    expect(inv.hosts.get('h1')!.origins.v!.file).toBe(join(cwd, 'b/hosts.ini'));
    expect(loadInventory(['b/hosts.ini', 'a'], cwd).hosts.get('h1')!.vars).toMatchObject({ v: 'a', g: 'a' });
  });

  it('-i host1,host2:2222 is a host list, as in Ansible', () => {
    const inv = loadInventory('h1,h2:2222', tempDir());
    expect(inv.hosts.get('h2')!.vars).toEqual({ ansible_port: 2222 });
    expect(inv.hosts.get('h1')!.groups).toEqual(['all', 'ungrouped']);
  });

  it('ungrouped: hosts in no group but all, as Ansible reconciles them; groups ordered by depth, priority, name (code points)', () => {
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'all:\n  hosts:\n    lone:\n  children:\n    b:\n      vars: { v: b, ansible_group_priority: 2 }\n      hosts: { h: }\n    a:\n      vars: { v: a, ansible_group_priority: 3 }\n      hosts: { h: }\n    Z:\n      vars: { v: Z }\n      hosts: { h: }\n',
    });
    const inv = loadInventory('hosts.yml', cwd);
    expect(inv.hosts.get('lone')!.groups).toEqual(['all', 'ungrouped']);
    expect(inv.hosts.get('h')!.groups).toEqual(['all', 'Z', 'b', 'a']);
    expect(inv.hosts.get('h')!.vars).toEqual({ v: 'a' });
    expect(ansibleListShape(inv, (h) => h.vars)).toEqual({
      _meta: { hostvars: { h: { v: 'a' } } },
      all: { children: ['ungrouped', 'b', 'a', 'Z'] },
      ungrouped: { hosts: ['lone'] },
      b: { hosts: ['h'] },
      a: { hosts: ['h'] },
      Z: { hosts: ['h'] },
    });
  });
});

describe('forms mxplay does not read: an error naming the file (and line), never a silent reading', () => {
  it.each<[string, Record<string, string>, string, RegExp]>([
    ['an inventory script', { 'inv.py': '#!/usr/bin/env python3\nprint("{}")\n' }, 'inv.py', /inv\.py:1: an inventory script .* is not supported by mxplay/],
    ['an inventory plugin configuration', { 'aws_ec2.yml': 'plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n' }, 'aws_ec2.yml', /aws_ec2\.yml:1: an inventory plugin configuration \(plugin: amazon\.aws\.aws_ec2\) is not supported/],
    ['a TOML inventory', { 'hosts.toml': '[web.hosts]\n' }, 'hosts.toml', /a TOML inventory is not supported/],
    ['an .ini file in a folder (Ansible ignores it)', { 'inv/hosts.ini': '[w]\nh\n' }, 'inv', /inv\/hosts\.ini: an inventory folder's \.ini files are not read .* -i .*inv\/hosts\.ini/],
    ['group_vars/ in a sub-folder', { 'inv/hosts.yml': 'all: {}\n', 'inv/sub/hosts.yml': 'all: {}\n', 'inv/sub/group_vars/all.yml': 'a: 1\n' }, 'inv', /sub\/group_vars: group_vars\/ in a sub-folder of the inventory folder is not read/],
    ['a file neither YAML nor INI', { 'hosts': 'web: [\n  stray line\n' }, 'hosts', /neither YAML .* nor INI/],
    ['group_vars/web and group_vars/web.yml both', { 'hosts.yml': 'web:\n  hosts: { h: }\n', 'group_vars/web/a.yml': 'x: 1\n', 'group_vars/web.yml': 'x: 2\n' }, 'hosts.yml', /group_vars\/web\/ and .*group_vars\/web\.yml are both there: Ansible reads only the first/],
  ])('%s', (_n, files, arg, message) => {
    const cwd = writeTree(tempDir(), files);
    if (files['inv.py']) chmodSync(join(cwd, 'inv.py'), 0o755);
    expect(errorsOf(() => loadInventory(arg, cwd)).join('\n')).toMatch(message);
  });

  it('group_vars/host_vars files of a group or host the inventory lacks (a typo) are errors with a "did you mean"', () => {
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'all:\n  children:\n    matrix:\n      hosts: { hs1: }\n',
      'group_vars/matrx.yml': 'x: 1\n',
      'group_vars/all.yml': 'y: 1\n',
      'group_vars/README.md': 'notes\n',
      'host_vars/hs2.yml': 'z: 1\n',
    });
    expect(errorsOf(() => loadInventory('hosts.yml', cwd))).toEqual([
      expect.stringMatching(/group_vars\/matrx\.yml: no group matrx in the inventory; did you mean matrix\?/),
      expect.stringMatching(/host_vars\/hs2\.yml: no host hs2 in the inventory; did you mean hs1\?/),
    ]);
  });
});

describe('the ansible_*/mxplay_* table', () => {
  it('every variable the transport and the build read is in it, as honoured', () => {
    const honoured = RESERVED_VARS.filter((v) => v.status === 'honoured').map((v) => v.name);
    for (const k of [
      'ansible_host', 'ansible_port', 'ansible_user', 'ansible_connection', 'ansible_become', 'ansible_ssh_private_key_file',
      'ansible_password', 'ansible_become_password', 'ansible_become_user', 'ansible_become_method', 'ansible_ssh_common_args',
      'ansible_ssh_extra_args', 'ansible_private_key_file', 'mxplay_master_secret', 'mxplay_host_key_checking', 'mxplay_known_hosts_file',
      'mxplay_connect_timeout', 'mxplay_keepalive_interval', 'mxplay_keepalive_count',
    ]) expect(honoured).toContain(k);
  });

  it.each<[string, 'inventory' | 'play', RegExp | 'ok']>([
    ['ansible_host', 'inventory', 'ok'],
    ['ansible_python_interpreter', 'inventory', 'ok'],
    ['ansible_python_interpreter', 'play', 'ok'],
    ['mxplay_master_secret', 'play', 'ok'],
    ['other_var', 'play', 'ok'],
    ['ansible_user', 'play', /ansible_user: a connection variable, read from the inventory only .* not supported by mxplay/],
    ['ansible_become', 'play', /a play's become: sets it/],
    ['ansible_shell_type', 'inventory', /ansible_shell_type: not supported by mxplay \(mxplay runs \/bin\/sh on every host\)/],
    ['ansible_become_flags', 'inventory', /not supported by mxplay \(mxplay runs sudo with its own flags\)/],
    ['ansible_ssh_host_key_checking', 'inventory', /use mxplay_host_key_checking/],
    ['ansible_hots', 'inventory', /ansible_hots: not supported by mxplay; did you mean ansible_host\?/],
    ['mxplay_master_secrets', 'inventory', /did you mean mxplay_master_secret\?/],
    ['ansible_winrm_transport', 'inventory', /ansible_winrm_transport: not supported by mxplay \(mxplay reads ansible_host, ansible_ssh_host, ansible_port/],
  ])('%s in %s', (key, where, want) => {
    const v = checkReservedName(key, where);
    if (want === 'ok') expect(v.ok).toBe(true);
    else expect(v.ok ? '' : v.message).toMatch(want);
  });

  it.each<[string, unknown, RegExp | undefined]>([
    ['ansible_become', 'yes', undefined],
    ['ansible_become', 'False', undefined],
    ['ansible_become', 1, undefined],
    ['ansible_become', 'sure', /must be a boolean/],
    ['ansible_port', '2222', undefined],
    ['ansible_port', 70000, /port number/],
    ['ansible_port', 'ssh', /port number/],
    ['ansible_connection', 'local', undefined],
    ['ansible_connection', 'smart', undefined],
    ['ansible_connection', 'docker', /"docker" is not supported by mxplay \(it takes ssh, smart, local\)/],
    ['ansible_become_method', 'su', /not supported by mxplay \(it takes sudo\)/],
    ['mxplay_host_key_checking', 'loose', /strict, accept-new, off/],
    ['mxplay_connect_timeout', '2.5', undefined],
    ['mxplay_connect_timeout', 0, /seconds/],
    ['ansible_user', ['a'], /a single value, not a list/],
    ['ansible_port', '{{ port }}', undefined],
  ])('%s = %j', (key, value, want) => {
    const entry = RESERVED_VARS.find((v) => v.name === key)!;
    const problem = checkReservedValue(entry, value);
    if (want) expect(problem).toMatch(want);
    else expect(problem).toBeUndefined();
  });

  it('ansibleBoolean reads what Ansible’s boolean() reads', () => {
    for (const t of [true, 1, 'yes', 'YES', 'on', 'y', 't', 'true', 'True', '1']) expect(ansibleBoolean(t)).toBe(true);
    for (const f of [false, 0, 'no', 'off', 'n', 'f', 'false', 'FALSE', '0']) expect(ansibleBoolean(f)).toBe(false);
    for (const x of ['sure', 2, null, [], '']) expect(ansibleBoolean(x)).toBeUndefined();
  });

  it('loadInventory refuses unknown names and bad values wherever they are written, naming file, line, host and key', () => {
    const cwd = writeTree(tempDir(), {
      'hosts': '[web]\nw1 ansible_shell_type=csh ansible_port=ssh\n[web:vars]\nansible_pipelining=True\nmxplay_conect_timeout=5\n',
      'group_vars/all.yml': 'ansible_python_interpreter: /usr/bin/python3\nansible_become_exe: /usr/local/bin/sudo\n',
      'host_vars/w1.yml': 'ansible_connection: winrm\nansible_group_priority: 3\n',
    });
    expect(errorsOf(() => loadInventory('hosts', cwd)).map((e) => e.replace(cwd + '/', ''))).toEqual([
      'group_vars/all.yml:2, key ansible_become_exe: ansible_become_exe: not supported by mxplay (mxplay runs sudo from the PATH)',
      'host_vars/w1.yml:1, host w1, key ansible_connection: ansible_connection "winrm" is not supported by mxplay (it takes ssh, smart, local)',
      "host_vars/w1.yml:2, key ansible_group_priority: ansible_group_priority takes effect only in an inventory file's group vars (Ansible ignores it in host_vars/)",
      'hosts:2, host w1, key ansible_shell_type: ansible_shell_type: not supported by mxplay (mxplay runs /bin/sh on every host)',
      'hosts:2, host w1, key ansible_port: ansible_port must be a port number (1-65535), not "ssh"',
      'hosts:5, key mxplay_conect_timeout: mxplay_conect_timeout: not supported by mxplay; did you mean mxplay_connect_timeout?',
    ]);
  });
});
