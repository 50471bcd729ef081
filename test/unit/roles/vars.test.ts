import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildWork } from '../../../src/engine/build.ts';
import { UserError, UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { fixedLayer, hostLayer, mergeLayers, parseExtraVars, unknownKeyErrors, validateRoleVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { secret } from '../../../src/secrets/secrets.ts';
import { tempDir, writeTree } from '../helpers.ts';

describe('parseExtraVars (-e)', () => {
  it('key=value reads the value as a YAML scalar', () => {
    const l = parseExtraVars(['port=100', 'name=matrix.org', 'tls=true', 'ratio=0.5', 'empty=', 'quoted="100"', 'list=[1, 2]', 'url=https://x/?a=b']);
    expect(l.values).toEqual({ port: 100, name: 'matrix.org', tls: true, ratio: 0.5, empty: '', quoted: '100', list: [1, 2], url: 'https://x/?a=b' });
    expect(l.origin('port')).toEqual({ file: 'command line', layer: 'extra vars (-e)' });
  });

  it('@file.yml reads a mapping, with lines as origins', () => {
    const d = writeTree(tempDir(), { 'extra.yml': 'a: 1\nb:\n  c: two\n' });
    const l = parseExtraVars([`@${join(d, 'extra.yml')}`, 'a=3']);
    expect(l.values).toEqual({ a: 3, b: { c: 'two' } });
    expect(l.origin('b')).toEqual({ file: join(d, 'extra.yml'), line: 2, layer: 'extra vars (-e)' });
    expect(l.origin('a').file).toBe('command line'); // the later -e won
  });

  it.each([
    ['no =', 'port', /-e expects key=value, @file\.yml or a JSON mapping, got 'port'/],
    ['empty key', '=3', /-e expects key=value/],
    ['missing file', '@/nonexistent/x.yml', /cannot read: ENOENT/],
  ])('bad: %s', (_n, arg, msg) => {
    expect(() => parseExtraVars([arg])).toThrow(msg);
  });

  it('a file that is not a mapping', () => {
    const d = writeTree(tempDir(), { 'x.yml': '- 1\n' });
    expect(() => parseExtraVars([`@${join(d, 'x.yml')}`])).toThrow(/must be a mapping/);
  });
});

describe('mergeLayers', () => {
  it('later layers win key by key, and each value keeps the origin of its layer', () => {
    const m = mergeLayers([
      fixedLayer({ a: 1, b: 1 }, 'inv.yml', 3, 'inventory'),
      fixedLayer({ b: 2, c: 2 }, 'site.yml', 7, 'play vars'),
      parseExtraVars(['c=3']),
    ]);
    expect(m.values).toEqual({ a: 1, b: 2, c: 3 });
    expect(m.origin('a')).toEqual({ file: 'inv.yml', line: 3, layer: 'inventory' });
    expect(m.origin('b')).toMatchObject({ file: 'site.yml', line: 7 });
    expect(m.origin('c')).toMatchObject({ file: 'command line' });
    expect(m.origin('zzz')).toBeUndefined();
  });
});

describe('unknownKeyErrors', () => {
  const known = new Set(['synapse_server_name', 'synapse_port', 'postgres_password']);
  it('an unknown key is an error with a "did you mean", file and line', () => {
    const [e, ...rest] = unknownKeyErrors(fixedLayer({ synapse_sever_name: 'x' }, 'group_vars/all.yml', 4, 'g'), known, { host: 'hs1' });
    expect(rest).toEqual([]);
    expect(e!.message).toBe('synapse_sever_name: not a variable of any role; did you mean synapse_server_name?');
    expect(e!.context).toEqual({ file: 'group_vars/all.yml', line: 4, host: 'hs1', key: 'synapse_sever_name' });
    expect(e!.toString()).toBe('group_vars/all.yml:4, host hs1, key synapse_sever_name: synapse_sever_name: not a variable of any role; did you mean synapse_server_name?');
  });
  it('in a role entry, it says which role; nothing close gives no suggestion', () => {
    const [e] = unknownKeyErrors(fixedLayer({ colour: 'x' }, 'site.yml', 9, 'r'), known, { role: 'synapse' });
    expect(e!.message).toBe('colour: not a variable of role synapse');
  });
  it('known keys pass; of ansible_*/mxplay_* keys, a play or -e layer takes only those mxplay reads there (ansible_host is read from the inventory only, so it is refused there)', () => {
    expect(unknownKeyErrors(fixedLayer({ synapse_port: 1, mxplay_master_secret: 'y', ansible_python_interpreter: '/usr/bin/python3' }, 'f', 1, 'l'), known, {})).toEqual([]);
    const errs = unknownKeyErrors(fixedLayer({ ansible_host: 'x', ansible_shell_type: 'csh', mxplay_master_secrt: 'z' }, 'site.yml', 3, 'l'), known, {});
    expect(errs.map((e) => e.toString())).toEqual([
      expect.stringMatching(/^site\.yml:3, key ansible_host: ansible_host: a connection variable, read from the inventory only .* not supported by mxplay/),
      expect.stringMatching(/^site\.yml:3, key ansible_shell_type: ansible_shell_type: not supported by mxplay \(mxplay runs \/bin\/sh on every host\)/),
      expect.stringMatching(/^site\.yml:3, key mxplay_master_secrt: mxplay_master_secrt: not supported by mxplay; did you mean mxplay_master_secret\?/),
    ]);
  });
  it('a host layer (inventory vars) leaves ansible_*/mxplay_* keys to loadInventory, which checked them with their own file and line', () => {
    expect(unknownKeyErrors(fixedLayer({ ansible_host: 'x', ansible_whatever: 1 }, 'f', 1, 'l'), known, { host: 'hs1' })).toEqual([]);
  });
});

describe('validateRoleVars', () => {
  const schema = z.object({
    server_name: z.string().describe('public name of the homeserver'),
    port: z.number().int().default(8008),
    db_password: secret(),
  });
  const ctx = { host: 'hs1', role: 'synapse' };

  it('valid vars: parsed, defaults applied, other keys left out', () => {
    const merged = mergeLayers([fixedLayer({ server_name: 'example.org', db_password: 'correct horse', other: 1 }, 'f', 1, 'l')]);
    const r = validateRoleVars(schema, merged, ctx);
    expect(r).toEqual({ ok: true, vars: { server_name: 'example.org', port: 8008, db_password: 'correct horse' } });
  });

  it('a NUL byte anywhere is refused, naming the path to it, the file, host, role and key', () => {
    const merged = mergeLayers([fixedLayer({ server_name: 'example.org', db_password: 'pass\0word-1', other: 1 }, 'inv.yml', 3, 'l')]);
    const r = validateRoleVars(schema, merged, ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map(String)).toEqual([expect.stringMatching(/^inv\.yml:3, host hs1, role synapse, key db_password: db_password: contains a NUL byte/)]);
  });

  it('a value of the wrong type: error names the file and line it came from, host, role and key', () => {
    const merged = mergeLayers([
      fixedLayer({ server_name: 'example.org', db_password: 'correct horse' }, 'inv.yml', 2, 'inventory'),
      fixedLayer({ port: '8008' }, 'inventory/prod/group_vars/synapse.yml', 5, 'group_vars/synapse'),
    ]);
    const r = validateRoleVars(schema, merged, ctx);
    expect(r.ok).toBe(false);
    const [e] = (r as { errors: UserError[] }).errors;
    expect(e!.context).toEqual({ file: 'inventory/prod/group_vars/synapse.yml', line: 5, host: 'hs1', role: 'synapse', key: 'port' });
    expect(e!.message).toMatch(/^port: .*expected number, received string/);
  });

  it('a missing required variable says so, with its description', () => {
    const r = validateRoleVars(schema, mergeLayers([fixedLayer({ db_password: 'correct horse' }, 'f', 1, 'l')]), ctx);
    const errs = (r as { errors: UserError[] }).errors;
    expect(errs.map((e) => e.message)).toEqual(['missing required variable server_name (public name of the homeserver)']);
    expect(errs[0]!.context).toEqual({ host: 'hs1', role: 'synapse', key: 'server_name' });
  });

  it('every bad key is reported at once', () => {
    const r = validateRoleVars(schema, mergeLayers([fixedLayer({ port: 1.5, db_password: 'short' }, 'f', 1, 'l')]), ctx);
    const keys = (r as { errors: UserError[] }).errors.map((e) => e.context.key).sort();
    expect(keys).toEqual(['db_password', 'port', 'server_name']);
    expect((r as { errors: UserError[] }).errors.find((e) => e.context.key === 'db_password')!.message).toMatch(/at least 8 characters/);
  });

  it('with a real inventory: the group_vars file and line of the bad value', () => {
    const cwd = writeTree(tempDir(), {
      'inventory/hosts.yml': 'all:\n  hosts:\n    hs1:\n      server_name: example.org\n      db_password: correct horse\n',
      'inventory/group_vars/all.yml': '# defaults\n\nport: "8448"\n',
    });
    const host = loadInventory('inventory', cwd).hosts.get('hs1')!;
    const r = validateRoleVars(schema, mergeLayers([hostLayer(host)]), ctx);
    const [e] = (r as { errors: UserError[] }).errors;
    expect(e!.toString()).toMatch(new RegExp(`^${join(cwd, 'inventory/group_vars/all.yml')}:3, host hs1, role synapse, key port: port: `));
  });
});

// Roles are TypeScript compiled on the fly here; an unknown var also loads every built-in role.
describe('buildWork input errors (role from a temp dir)', { timeout: 30_000 }, () => {
  const SRC = resolve(__dirname, '../../../src/index.ts');
  const ROLE = `import { defineRole, z, file, service } from '${SRC}';
export default defineRole({
  name: 'web',
  vars: z.object({ web_port: z.number().int(), web_name: z.string().describe('site name') }),
  tasks: (v) => [file({ path: '/etc/web.conf', content: v.web_name + ':' + v.web_port, notify: 'restart web' })],
  handlers: { 'restart web': service.restart('web') },
});
`;
  async function build(files: Record<string, string>, extra: string[] = [], limit?: string) {
    const cwd = writeTree(tempDir(), { 'roles/web/role.ts': ROLE, 'site.yml': '- hosts: all\n  roles: [web]\n', ...files });
    try {
      const o = { extraVars: parseExtraVars(extra), secrets: new SecretRegistry(), ...(limit ? { limit } : {}) };
      return { cwd, works: await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), o) };
    } catch (e) {
      if (e instanceof UserErrors) return { cwd, errors: e.errors.map((x) => x.toString()) };
      throw e;
    }
  }

  // The first build loads every built-in role (to know all variable names) through vitest's
  // transform of the 1.4 MB bundle: seconds on a loaded 2-core machine, over the 5 s default.
  it('good input builds the role\'s resources for each host', async () => {
    const r = await build({ 'inventory/hosts.yml': 'all:\n  vars: { web_name: a }\n  hosts:\n    h1: { web_port: 80 }\n' });
    expect(r.errors).toBeUndefined();
    expect(r.works![0]!.plays[0]!.items.map((i) => i.resource.id)).toEqual(['/etc/web.conf']);
  }, 30_000);

  it('a role var of the wrong type in host_vars: file:line, host, role, key', async () => {
    const r = await build({
      'inventory/hosts.yml': 'all:\n  vars: { web_name: a }\n  hosts:\n    h1:\n',
      'inventory/host_vars/h1.yml': 'web_port: eighty\n',
    });
    expect(r.errors).toEqual([expect.stringMatching(new RegExp(`^${join(r.cwd, 'inventory/host_vars/h1.yml')}:1, host h1, role web, key web_port: web_port: .*expected number`))]);
  });

  it('an unknown var gets a "did you mean"; a missing one is named; -e wins over the inventory', async () => {
    const r = await build({ 'inventory/hosts.yml': 'all:\n  hosts:\n    h1:\n      web_prot: 80\n      web_port: x\n' }, ['web_port=8080']);
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/hosts\.yml:4, host h1, key web_prot: web_prot: not a variable of any role; did you mean web_port\?$/),
        expect.stringMatching(/host h1, role web, key web_name: missing required variable web_name \(site name\)$/),
      ]),
    );
    expect(r.errors!.join('\n')).not.toMatch(/key web_port:/);
  });

  it("a var of another available role is known (an inventory serves several playbooks); a typo of it is not", async () => {
    const mail = `import { defineRole, z } from '${SRC}';
export default defineRole({ name: 'mail', vars: z.object({ mail_relay: z.string() }), tasks: () => [] });
`;
    const ok = await build({ 'roles/mail/role.ts': mail, 'inventory/hosts.yml': 'all:\n  vars: { web_name: a, web_port: 1, mail_relay: x }\n  hosts:\n    h1:\n' });
    expect(ok.errors).toBeUndefined();
    const typo = await build({ 'roles/mail/role.ts': mail, 'inventory/hosts.yml': 'all:\n  vars: { web_name: a, web_port: 1, mail_rely: x }\n  hosts:\n    h1:\n' });
    expect(typo.errors).toEqual([expect.stringMatching(/key mail_rely: mail_rely: not a variable of any role; did you mean mail_relay\?$/)]);
  });

  it("a role's atPlayEnd tasks run after every role's and the play's own tasks, in role order", async () => {
    const late = (name: string) => `import { defineRole, z, file } from '${SRC}';
export default defineRole({
  name: '${name}',
  vars: z.object({}),
  tasks: () => [file({ path: '/etc/${name}.early', content: '' })],
  atPlayEnd: () => [file({ path: '/etc/${name}.late', content: '' })],
});
`;
    const r = await build({
      'roles/first/role.ts': late('first'),
      'roles/second/role.ts': late('second'),
      'site.yml': '- hosts: all\n  roles: [first, web, second]\n  tasks:\n    - file: { path: /etc/inline, content: x }\n',
      'inventory/hosts.yml': 'all:\n  vars: { web_name: a, web_port: 1 }\n  hosts:\n    h1:\n',
    });
    expect(r.errors).toBeUndefined();
    expect(r.works![0]!.plays[0]!.items.map((i) => [i.role, i.resource.id])).toEqual([
      ['first', '/etc/first.early'], ['web', '/etc/web.conf'], ['second', '/etc/second.early'],
      ['tasks', '/etc/inline'], ['first', '/etc/first.late'], ['second', '/etc/second.late'],
    ]);
  });

  it('a hosts pattern that matches no host: the pattern, its line, a "did you mean" and what the inventory has (groups as Ansible makes them: all and ungrouped first)', async () => {
    const inventory = 'all:\n  children:\n    matrix:\n      hosts:\n        h1: { web_port: 80, web_name: a }\n';
    const one = await build({ 'site.yml': '- hosts: matrx\n  roles: [web]\n', 'inventory/hosts.yml': inventory });
    expect(one.errors).toEqual([
      `${join(one.cwd, 'site.yml')}:1: no play matches any host: hosts 'matrx', did you mean matrix? (inventory hosts: h1; groups: all, ungrouped, matrix)`,
    ]);
    const two = await build({ 'site.yml': '- hosts: dbservers\n  roles: [web]\n- hosts: webservers\n  roles: [web]\n', 'inventory/hosts.yml': inventory }, [], 'h1');
    expect(two.errors).toEqual([
      `${join(two.cwd, 'site.yml')}: no play matches any host within --limit h1: hosts 'dbservers' (line 1); 'webservers' (line 3) (inventory hosts: h1; groups: all, ungrouped, matrix)`,
    ]);
  });

  it('an unknown role gets a "did you mean" with the playbook line', async () => {
    const r = await build({ 'site.yml': '- hosts: all\n  roles:\n    - wbe\n', 'inventory/hosts.yml': 'all:\n  hosts:\n    h1:\n' });
    expect(r.errors).toEqual([expect.stringMatching(/site\.yml:3, role wbe: unknown role 'wbe'; did you mean web\?/)]);
  });
});
