import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { inlineHandlerResource, inlineTaskResources } from '../../../src/playbook/inline-tasks.ts';
import { loadPlaybook, type Playbook } from '../../../src/playbook/playbook.ts';
import { tempDir, writeTree, userErrorOf as errorOf } from '../helpers.ts';

// What a playbook's author may write, and how a mistake is reported: the message, and the line
// and key it points at.

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGRtest\n-----END PGP PUBLIC KEY BLOCK-----\n';

function load(text: string, extra: Record<string, string> = {}): Playbook {
  return loadPlaybook('site.yml', writeTree(tempDir(), { 'site.yml': text, 'templates/a.ejs': 'a\n', 'keys/repo.asc': KEY, ...extra }));
}

const task = (t: string) => `- name: web\n  hosts: all\n  tasks:\n    - name: t\n      ${t}\n`;
const accepted = (t: string) => expect(() => load(task(t))).not.toThrow();
const refused = (t: string, msg: RegExp) => expect(errorOf(() => load(task(t))).message).toMatch(msg);

describe('option values a task accepts and refuses', () => {
  it.each([
    ['a mode without its leading 0', 'file: { path: /x, mode: "640" }'],
    ['a mode with four digits', 'file: { path: /x, mode: "2750" }'],
    ['state present', 'file: { path: /x, state: present }'],
    ['notify as one name', 'file: { path: /x, notify: reload }'],
    ['notify as a list', 'file: { path: /x, notify: [a, b] }'],
    ['apt_source notifying, with tags', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: keys/repo.asc, notify: [x], tags: [t] }'],
    ['readiness over http', 'service: { name: a, ready: { http: "http://127.0.0.1:8008/health" } }'],
    ['readiness over https', 'service: { name: a, ready: { http: "https://example.org/" } }'],
    ['readiness on host:port', 'service: { name: a, ready: { tcp: "localhost:5432" } }'],
    ['readiness on an IPv6 address', 'service: { name: a, ready: { tcp: "[::1]:8448" } }'],
    ['readiness on an IPv4-mapped address', 'service: { name: a, ready: { tcp: "[::ffff:10.0.0.1]:80" } }'],
    ['a PostgreSQL name of 63 characters', `postgres_role: { name: ${'r'.repeat(63)} }`],
  ])('%s', (_n, t) => accepted(t));

  it.each([
    ['a mode with text before it', 'file: { path: /x, mode: "x0640" }', /octal string/],
    ['a mode with more digits', 'file: { path: /x, mode: "064000" }', /octal string/],
    ['readiness URL that is not http', 'service: { name: a, ready: { http: "ftp://x/" } }', /an http\(s\) URL/],
    ['readiness URL not at the start', 'service: { name: a, ready: { http: "see http://x/" } }', /an http\(s\) URL/],
    ['readiness tcp without a port', 'service: { name: a, ready: { tcp: "localhost" } }', /host:port/],
    ['readiness tcp with text before', 'service: { name: a, ready: { tcp: "a b:80" } }', /host:port/],
    ['readiness tcp with text after the port', 'service: { name: a, ready: { tcp: "localhost:80/x" } }', /host:port/],
    ['readiness tcp port too long', 'service: { name: a, ready: { tcp: "localhost:123456" } }', /host:port/],
    ['readiness IPv6 with text before', 'service: { name: a, ready: { tcp: "x[::1]:80" } }', /host:port/],
    ['readiness IPv6 with text after', 'service: { name: a, ready: { tcp: "[::1]:80x" } }', /host:port/],
    ['readiness IPv6 with a port too long', 'service: { name: a, ready: { tcp: "[::1]:123456" } }', /host:port/],
    ['readiness IPv6 port not digits', 'service: { name: a, ready: { tcp: "[::1]:http" } }', /host:port/],
    ['a PostgreSQL name of 64 characters', `postgres_role: { name: ${'r'.repeat(64)} }`, /at most 63 characters \(PostgreSQL cuts longer names\)/],
  ])('%s: refused', (_n, t, msg) => refused(t, msg));

  it('notify as a number: refused at its key', () => {
    expect(errorOf(() => load(task('file: { path: /x, notify: 3 }'))).context.key).toBe('notify');
  });

  it.each([
    ['a serial percentage with text before', 'x30%'],
    ['a serial percentage with text after', '30%x'],
  ])('%s: refused', (_n, serial) => {
    expect(errorOf(() => load(`- hosts: all\n  serial: "${serial}"\n`)).message).toMatch(/a number or a percentage like 30%/);
  });
});

describe('files a task names on the control machine', () => {
  it('a key file not found, given relative: the path, and what it is relative to', () => {
    const e = errorOf(() => load(task('apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: keys/none.asc }')));
    expect(e.message).toMatch(/: key file not found: \/.*\/keys\/none\.asc \(relative to the playbook's folder\)$/);
  });

  it('a key file not found, given absolute: only the path', () => {
    const e = errorOf(() => load(task('apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: /nonexistent/k.asc }')));
    expect(e.message).toMatch(/: key file not found: \/nonexistent\/k\.asc$/);
  });

  it('a template not found: relative to the templates/ folder', () => {
    expect(errorOf(() => load(task('template: { path: /x, src: none.ejs }'))).message).toMatch(/\(relative to the playbook's templates\/ folder\)$/);
  });

  it.each([['.'], ['..'], ['sub/../..']])('a template src %s that is not a file inside templates/: refused', (src) => {
    expect(errorOf(() => load(task(`template: { path: /x, src: "${src}" }`))).message).toMatch(/must be inside the playbook's templates\/ folder/);
  });

  it('a folder where a file is expected', () => {
    const e = errorOf(() => load(task('apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: keys }')));
    expect(e.message).toMatch(/key file \/.*\/keys: not a regular file$/);
    expect(e.context.key).toBe('key_file');
  });

  it("an option's error points at the option's own line", () => {
    const e = errorOf(() => load('- hosts: all\n  tasks:\n    - apt_source:\n        name: r\n        uris: "https://r/"\n        suites: s\n        components: main\n        key_file: keys/none.asc\n'));
    expect(e.context).toMatchObject({ line: 8, key: 'key_file' });
  });
});

describe('NUL bytes', () => {
  it('in a list: named by its place, at its line', () => {
    const e = errorOf(() => load('- hosts: all\n  tasks:\n    - apt:\n        names:\n          - curl\n          - "j\\0q"\n'));
    expect(e.message).toMatch(/apt\.names\.1: contains a NUL byte/);
    expect(e.context).toMatchObject({ line: 6, key: 'names' });
  });

  it('in a mapping: at the line of its key', () => {
    const e = errorOf(() => load('- hosts: all\n  tasks:\n    - file:\n        path: /x\n        content: "a\\0b"\n'));
    expect(e.context).toMatchObject({ line: 5, key: 'content' });
  });

  it('no NUL anywhere in lists and mappings: loaded', () => {
    expect(load('- hosts: all\n  tasks:\n    - apt: { names: [a, b, c] }\n    - yaml_file: { path: /x, data: { a: [1, { b: "c" }] } }\n').plays[0]!.tasks).toHaveLength(2);
  });
});

describe('messages that help', () => {
  it('an unknown play key far from every known one lists them', () => {
    expect(errorOf(() => load('- hosts: all\n  zqxjv: 1\n')).message).toBe(
      "unknown key 'zqxjv' (known: name, hosts, vars, roles, tasks, handlers, become, serial, max_fail_percentage, tags)",
    );
  });

  it('a task with two types lists the types there are', () => {
    expect(errorOf(() => load('- hosts: all\n  tasks:\n    - { file: { path: /x }, apt: { names: a } }\n')).message).toMatch(
      /exactly one resource type \(file, directory, link, template, yaml_file, apt, apt_source, debconf, service, command, /,
    );
  });

  it.each([
    ['yaml', 'yaml_file'], ['apt_repository', 'apt_source'], ['postgres_db', 'postgres_database'], ['postgresql_db', 'postgres_database'],
    ['postgres_user', 'postgres_role'], ['postgresql_user', 'postgres_role'], ['systemd', 'service'], ['shell', 'command'],
    ['DOCKER-COMPOSE', 'docker_compose'], ['Postgres-Setting', 'postgres_setting'],
  ])("Ansible's or another spelling %s suggests %s", (type, hint) => {
    expect(errorOf(() => load(task(`${type}: {}`))).message).toContain(`did you mean ${hint}?`);
  });

  it('postgres_hba says where its entries go instead', () => {
    expect(errorOf(() => load(task('postgres_hba: {}'))).message).toMatch(/give the entries in the postgres role's postgres_hba variable$/);
  });

  it('a type that cannot be a handler: at the handler, naming the type', () => {
    const e = errorOf(() => load('- hosts: all\n  handlers:\n    - name: h\n      meta: flush_handlers\n'));
    expect(e.context).toMatchObject({ file: expect.stringMatching(/site\.yml$/), line: 3, key: 'meta' });
  });
});

describe('what a playbook records', () => {
  it('no secret from tasks that carry none; an empty password is none', () => {
    const pb = load(task('file: { path: /x }') + '    - debconf: { package: p, question: p/pw, vtype: password, value: "" }\n');
    expect(pb.secretValues).toEqual([]);
  });

  it('a task without a name has none (plans name it by its place)', () => {
    const t = load('- hosts: all\n  tasks:\n    - file: { path: /x }\n').plays[0]!.tasks[0]!;
    expect(Object.keys(t)).not.toContain('name');
  });
});

describe('building tasks', () => {
  const ctx = { host: 'hs1', vars: {} };

  it('an error that is no input error goes through as it is', () => {
    expect(() => inlineTaskResources({ type: 'command', options: { cmd: 'x', creates: 'a\0' } }, ctx)).toThrow(/^a value with a NUL byte cannot be passed to a shell$/);
    try {
      inlineTaskResources({ type: 'command', options: { cmd: 'x', creates: 'a\0' } }, ctx);
    } catch (e) {
      expect(e).not.toBeInstanceOf(UserError);
    }
  });

  it('an input error names the task, file, line, host and key', () => {
    const e = errorOf(() => inlineTaskResources({ type: 'release', options: { dir: '/a', version: '1', source: '/nonexistent.tar', sha256: 'a'.repeat(64) }, label: 'task 2 (release)', file: '/p/site.yml', line: 7 }, ctx));
    expect(e.message).toMatch(/^task 2 \(release\): tarball \/nonexistent\.tar/);
    expect(e.context).toEqual({ file: '/p/site.yml', line: 7, host: 'hs1', key: 'source' });
    const bare = errorOf(() => inlineTaskResources({ type: 'release', options: { dir: '/a', version: '1', source: '/nonexistent.tar', sha256: 'a'.repeat(64) } }, ctx));
    expect(bare.context).toEqual({ host: 'hs1', key: 'source' });
  });

  it('a handler of a type that is more than one action is refused when built', () => {
    const t = { type: 'apt_source' as const, options: { name: 'a', uris: 'u', suites: 's', components: 'c', key: KEY } };
    expect(errorOf(() => inlineHandlerResource(t, ctx)).message).toBe('apt_source: a handler is one action');
    const e = errorOf(() => inlineHandlerResource({ ...t, label: "handler 'h'", file: '/p/site.yml', line: 3 }, ctx));
    expect(e.message).toBe("handler 'h': a handler is one action");
    expect(e.context).toEqual({ file: '/p/site.yml', line: 3 });
  });
});
