import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { inlineHandlerResource, inlineTaskResources } from '../../../src/playbook/inline-tasks.ts';
import { loadPlaybook, resolvePlaybookPath } from '../../../src/playbook/playbook.ts';
import { tempDir, writeTree } from '../helpers.ts';

function load(text: string): ReturnType<typeof loadPlaybook> {
  return loadPlaybook('site.yml', writeTree(tempDir(), { 'site.yml': text }));
}

/** The UserError a playbook text raises (fails the test if none). */
function errorOf(text: string): UserError {
  try {
    load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected an error');
}

describe('loadPlaybook', () => {
  it('reads plays: roles (plain and with vars/tags), inline tasks and handlers, with lines', () => {
    const pb = load(`- name: web
  hosts: web:&prod
  become: true
  serial: 30%
  max_fail_percentage: 20
  tags: a, b
  vars:
    x: 1
  roles:
    - common
    - role: nginx
      vars: { port: 8080 }
      tags: [edge]
  tasks:
    - name: motd
      file: { path: /etc/motd, content: hi, mode: "0640" }
    - apt: { names: curl }
  handlers:
    - name: restart nginx
      service: { name: nginx, state: restarted }
- hosts: db
`);
    expect(pb.plays).toHaveLength(2);
    const [p, q] = pb.plays;
    expect(p).toMatchObject({ index: 0, name: 'web', hosts: 'web:&prod', become: true, serial: '30%', maxFailPercentage: 20, tags: ['a', 'b'], vars: { x: 1 }, line: 1 });
    expect(p!.roles).toEqual([
      { role: 'common', vars: {}, tags: [], line: 10 },
      { role: 'nginx', vars: { port: 8080 }, tags: ['edge'], line: 11 },
    ]);
    expect(p!.tasks).toEqual([
      { name: 'motd', type: 'file', options: { path: '/etc/motd', content: 'hi', mode: 0o640 }, line: 15, label: "task 'motd' (file) of play 'web'", file: pb.file },
      { type: 'apt', options: { names: ['curl'] }, line: 17, label: "task 2 (apt) of play 'web'", file: pb.file },
    ]);
    expect(p!.handlers[0]).toMatchObject({ name: 'restart nginx', type: 'service', line: 19 });
    expect(q).toMatchObject({ index: 1, name: 'play 2 (db)', become: undefined, serial: undefined, maxFailPercentage: 100, tags: [], roles: [], tasks: [] });
  });

  it('an inline file task accepts sensitive: its diff is hidden in plans', () => {
    const pb = load('- hosts: all\n  tasks:\n    - file: { path: /etc/ssl/private/k.pem, content: "x", sensitive: true, mode: "0600" }\n');
    const t = pb.plays[0]!.tasks[0]!;
    const r = inlineTaskResources(t, { host: 'h', vars: {} })[0]!;
    const plan = typeof r.probe === 'string' ? null : r.plan(r.probe.read({ path: () => ({ kind: 'none' }) } as never) as never);
    expect(plan).toMatchObject({ action: '+', diff: { hidden: true } });
  });

  it('inline service state restarted becomes a handler action', () => {
    const pb = load('- hosts: all\n  handlers:\n    - name: r\n      service: { name: nginx, state: restarted }\n');
    const h = pb.plays[0]!.handlers[0]!;
    expect(inlineHandlerResource(h, { host: 'h', vars: {} })).toMatchObject({ type: 'handler', id: 'restart nginx' });
  });

  it.each([
    ['malformed YAML', '- hosts: all\n  roles: [a, b\n  tasks: []\n', /^malformed YAML/, 3, undefined],
    ['a double quote never closed: the line it opens on', '- hosts: all\n  vars:\n    a: "unclosed\n    b: 2\n  roles: [x]\n', /^malformed YAML: this quoted string is never closed$/, 3, undefined],
    ['a single quote never closed, after closed ones', "- hosts: 'all'\n  vars:\n    a: 'it''s'\n    b: 'open\n  roles: [x]\n", /^malformed YAML: this quoted string is never closed$/, 4, undefined],
    ['duplicate key', '- hosts: all\n  hosts: web\n', /^malformed YAML: Map keys must be unique/, 2, undefined],
    ['not a list', 'hosts: all\n', /a playbook is a list of plays/, 1, undefined],
    ['a play that is not a mapping', '- hosts: all\n- just a string\n', /a play is a mapping/, 2, undefined],
    ['unknown play key', '- hosts: all\n  rolse: [a]\n', /^unknown key 'rolse'; did you mean roles\?$/, 2, 'rolse'],
    ['missing hosts', '- roles: [a]\n', /^missing key 'hosts' \(string\)$/, 1, 'hosts'],
    ['bad serial', '- hosts: all\n  serial: lots\n', /a number or a percentage like 30%/, 2, 'serial'],
    ['bad max_fail_percentage', '- hosts: all\n  max_fail_percentage: 150\n', /100/, 2, 'max_fail_percentage'],
    ['unknown key in a role entry', '- hosts: all\n  roles:\n    - role: a\n      varz: {}\n', /^unknown key 'varz'; did you mean vars\?$/, 4, 'varz'],
    ['unknown resource type, with a suggestion', '- hosts: all\n  tasks:\n    - name: x\n      fiel: { path: /x }\n', /^task 'x' of play 1 \(all\): unknown resource type 'fiel'; did you mean file\?$/, 3, 'fiel'],
    ['unknown resource type, nothing close', '- hosts: all\n  tasks:\n    - zzzzzz: {}\n', /^task 1 of play 1 \(all\): unknown resource type 'zzzzzz'$/, 3, 'zzzzzz'],
    ['two resource types in one task', '- hosts: all\n  tasks:\n    - file: { path: /x }\n      apt: { names: [a] }\n', /exactly one resource type/, 3, undefined],
    ['unknown option of a task', '- hosts: all\n  tasks:\n    - file:\n        path: /x\n        contnet: y\n', /unknown key 'contnet'/, 5, 'contnet'],
    ['wrong option type in a task', '- hosts: all\n  tasks:\n    - service:\n        name: nginx\n        enabled: yes please\n', /expected boolean/, 5, 'enabled'],
    ['bad mode string', '- hosts: all\n  tasks:\n    - file: { path: /x, mode: "rw-r--r--" }\n', /octal string, e.g. "0640"/, 3, 'mode'],
    ['bad handler', '- hosts: all\n  handlers:\n    - name: h\n      servce: { name: x }\n', /did you mean service\?/, 3, 'servce'],
  ])('%s → error at file:line', (_n, text, msg, line, key) => {
    const e = errorOf(text);
    expect(e.message).toMatch(msg);
    expect(e.context.file).toMatch(/site\.yml$/);
    expect(e.context.line).toBe(line);
    if (key) expect(e.context.key).toBe(key);
    expect(e.toString()).toContain(`site.yml:${line}`);
  });
});

describe('resolvePlaybookPath', () => {
  it('the path as given, else playbooks/NAME', () => {
    const cwd = writeTree(tempDir(), { 'site.yml': '[]', 'playbooks/other.yml': '[]' });
    expect(resolvePlaybookPath('site.yml', cwd)).toBe(join(cwd, 'site.yml'));
    expect(resolvePlaybookPath('other.yml', cwd)).toBe(join(cwd, 'playbooks/other.yml'));
    expect(() => resolvePlaybookPath('nope.yml', cwd)).toThrow(/playbook not found: tried nope\.yml, playbooks\/nope\.yml/);
  });
});
