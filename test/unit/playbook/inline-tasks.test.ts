import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import {
  REFUSED_INLINE_TYPES, inlineHandlerResource, inlineTaskResources, inlineTaskTypes, type InlineTaskContext,
} from '../../../src/playbook/inline-tasks.ts';
import { loadPlaybook, type Playbook } from '../../../src/playbook/playbook.ts';
import type { FactProbe, Resource } from '../../../src/resources/types.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree, userErrorOf as errorOf } from '../helpers.ts';

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGRtest\n-----END PGP PUBLIC KEY BLOCK-----\n';
const TARBALL = 'not really a tarball\n';
const TARBALL_SHA = createHash('sha256').update(TARBALL).digest('hex');

/** A playbook folder with the files inline tasks may name, and the playbook itself. */
function playbookDir(text: string, extra: Record<string, string> = {}): string {
  return writeTree(tempDir(), {
    'site.yml': text,
    'templates/motd.ejs': 'host <%= host %>, domain <%= domain %>, extra <%= extra %>\n',
    'templates/sub/secret.ejs': 'password=<%= db_password %>\n',
    'keys/repo.asc': KEY,
    'files/app.tar': TARBALL,
    ...extra,
  });
}

function load(text: string, extra?: Record<string, string>): Playbook {
  return loadPlaybook('site.yml', playbookDir(text, extra));
}

/** A play named web with one task (YAML of the task's mapping, indented under `- `). */
const play = (task: string, section = 'tasks') => `- name: web\n  hosts: all\n  ${section}:\n    - name: t\n      ${task}\n`;

const ctx = (vars: Record<string, unknown> = {}, secrets?: SecretRegistry): InlineTaskContext => ({ host: 'hs1', vars, ...(secrets ? { secrets } : {}) });

/** The plan of a file-like resource against a host where nothing exists yet. */
function planOnEmptyHost(r: Resource) {
  const p = r.probe as FactProbe<unknown>;
  return r.plan(p.read({ path: () => undefined, user: () => true, group: () => true } as never));
}

// Every inline type: options that are valid, the resources they give (type and id), and a key the type does not know.
const TYPES: [type: string, options: string, resources: [string, string][]][] = [
  ['file', '{ path: /etc/motd, content: hi, mode: "0640" }', [['file', '/etc/motd']]],
  ['directory', '{ path: /srv/app, mode: "0750", owner: www-data }', [['directory', '/srv/app']]],
  ['link', '{ path: /srv/app/current, target: /srv/app/v1 }', [['link', '/srv/app/current']]],
  ['template', '{ path: /etc/motd, src: motd.ejs, data: { extra: 42 } }', [['template', '/etc/motd']]],
  ['yaml_file', '{ path: /etc/app.yaml, data: { b: 1, a: [x] }, header: managed }', [['yaml', '/etc/app.yaml']]],
  ['apt', '{ names: [curl, jq], state: latest, target_release: bookworm-backports, no_start: true }', [['apt', 'curl,jq']]],
  ['apt_source', '{ name: repo, uris: "https://repo.example/debian", suites: bookworm, components: main, key_file: keys/repo.asc }', [['apt key', '/etc/apt/keyrings/repo.asc'], ['apt source', '/etc/apt/sources.list.d/repo.sources']]],
  ['debconf', '{ package: tzdata, question: tzdata/Areas, vtype: select, value: Europe }', [['debconf', 'tzdata/tzdata/Areas']]],
  ['service', '{ name: nginx, enabled: true, state: started, ready: { tcp: "127.0.0.1:80", timeout_s: 30 } }', [['service', 'nginx']]],
  ['command', '{ cmd: make-ca, creates: /etc/ca.pem }', [['command', 'make-ca']]],
  ['user', '{ name: app, system: true, groups: [www-data] }', [['user', 'app']]],
  ['group', '{ name: app, system: true }', [['group', 'app']]],
  ['release', `{ dir: /srv/app, version: "1.0", source: files/app.tar, sha256: ${TARBALL_SHA}, keep: 2 }`, [['release', '/srv/app']]],
  ['docker_compose', '{ dir: /srv/jitsi, wait_timeout_s: 60 }', [['docker_compose', '/srv/jitsi']]],
  ['postgres_role', '{ name: app, password: "s3cret-pass" }', [['postgres role', 'app']]],
  ['postgres_database', '{ name: app, owner: app, encoding: UTF8, lc_collate: C, lc_ctype: C }', [['postgres db', 'app']]],
  ['postgres_setting', '{ name: max_connections, value: "200", builtin: "100" }', [['postgres setting', 'max_connections']]],
  ['meta', 'flush_handlers', [['flush', 'handlers']]],
];

describe('inline tasks: every resource type of the role API', () => {
  it('the table covers every inline type', () => {
    expect(TYPES.map(([t]) => t).sort()).toEqual(Object.keys(inlineTaskTypes).sort());
  });

  it.each(TYPES)('%s: valid options → its resources', (type, options, resources) => {
    const pb = load(play(`${type}: ${options}`));
    const t = pb.plays[0]!.tasks[0]!;
    expect(t).toMatchObject({ type, name: 't', line: 4, label: `task 't' (${type}) of play 'web'`, file: pb.file });
    const rs = inlineTaskResources(t, ctx({ domain: 'example.org' }));
    expect(rs.map((r) => [r.type, r.id])).toEqual(resources);
  });

  it.each(TYPES.filter(([t]) => t !== 'meta'))('%s: an unknown key → error naming file, play, task and key', (type, options) => {
    const e = errorOf(() => load(play(`${type}: ${options.replace(/^\{ /, '{ bogus_key: 1, ')}`)));
    expect(e.message).toMatch(new RegExp(`^task 't' \\(${type}\\) of play 'web': unknown key 'bogus_key'`));
    expect(e.context).toMatchObject({ file: expect.stringMatching(/site\.yml$/), line: 5, key: 'bogus_key' });
    expect(e.toString()).toMatch(/site\.yml:5, key bogus_key: task 't' \(\w+\) of play 'web': unknown key/);
  });

  it.each([
    ['a missing required key', 'file: { content: x }', /task 't' \(file\) of play 'web': missing key 'path' \(string\)$/, 'path'],
    ['a relative host path', 'file: { path: etc/motd }', /an absolute path on the host/, 'path'],
    ['a wrong type', 'service: { name: nginx, enabled: "yes please" }', /expected boolean/, 'enabled'],
    ['a readiness key unknown', 'service: { name: nginx, ready: { htp: "http://x/" } }', /unknown key 'htp'; did you mean http\?/, 'htp'],
    ['a template not found', 'template: { path: /etc/x, src: nope.ejs }', /template not found: .*templates\/nope\.ejs/, 'src'],
    ['a template outside templates/', 'template: { path: /etc/x, src: ../site.yml }', /must be inside the playbook's templates\/ folder/, 'src'],
    ['a template by absolute path', 'template: { path: /etc/x, src: /etc/passwd }', /give it relative to the playbook's templates\/ folder/, 'src'],
    ['apt_source without a key', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main }', /the signing key: key .* or key_file/, 'key'],
    ['apt_source with both keys', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main, key: "-----BEGIN PGP PUBLIC KEY BLOCK-----", key_file: keys/repo.asc }', /key or key_file, not both/, 'key_file'],
    ['apt_source key that is no armoured key', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main, key: binary }', /an ASCII-armoured public key/, 'key'],
    ['apt_source key file missing', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: keys/none.asc }', /key file not found: .*keys\/none\.asc/, 'key_file'],
    ['apt_source key file not armoured', 'apt_source: { name: r, uris: "https://r/", suites: s, components: main, key_file: files/app.tar }', /not an ASCII-armoured public key/, 'key_file'],
    ['apt_source uris with a line break', 'apt_source: { name: r, uris: "https://r/\\nTypes: deb-src", suites: s, components: main, key_file: keys/repo.asc }', /on one line/, 'uris'],
    ['debconf answer with a line break', 'debconf: { package: p, question: p/q, vtype: string, value: "a\\nb" }', /an answer on one line/, 'value'],
    ['debconf bad vtype', 'debconf: { package: p, question: p/q, vtype: text, value: a }', /expected one of/, 'vtype'],
    ['release bad sha256', 'release: { dir: /srv/a, version: "1", source: "https://x/a.tar", sha256: ABC }', /64 lower-case hex digits/, 'sha256'],
    ['release bad version', 'release: { dir: /srv/a, version: "../1", source: "https://x/a.tar", sha256: ' + TARBALL_SHA + ' }', /it names a folder/, 'version'],
    ['release tarball missing', 'release: { dir: /srv/a, version: "1", source: files/none.tar, sha256: ' + TARBALL_SHA + ' }', /tarball not found/, 'source'],
    ['release tarball with another checksum', 'release: { dir: /srv/a, version: "1", source: files/app.tar, sha256: ' + 'a'.repeat(64) + ' }', /has sha256 [0-9a-f]{64}, not the expected a{64}/, 'sha256'],
    ['postgres_role password too short', 'postgres_role: { name: app, password: short }', /at least 8 characters/, 'password'],
    ['postgres_setting name that is not one', 'postgres_setting: { name: "x; DROP TABLE y", value: "1" }', /a setting name like max_connections/, 'name'],
    ['meta other than flush_handlers', 'meta: end_play', /the only meta task is flush_handlers/, 'meta'],
    ['a NUL byte', 'file: { path: /etc/x, content: "a\\0b" }', /file\.content: contains a NUL byte/, 'content'],
  ])('%s → error naming file, play, task and key', (_n, task, msg, key) => {
    const e = errorOf(() => load(play(task)));
    expect(e.message).toMatch(/^task 't' \(\w+\) of play 'web': /);
    expect(e.message).toMatch(msg);
    expect(e.context.file).toMatch(/site\.yml$/);
    expect(e.context.line).toBeGreaterThanOrEqual(4);
    expect(e.context.key).toBe(key);
  });

  it.each([
    ['aptSource', /did you mean apt_source\?/],
    ['apt-source', /did you mean apt_source\?/],
    ['yamlFile', /did you mean yaml_file\?/],
    ['flush_handlers', /did you mean meta \(- meta: flush_handlers\)\?/],
    ['copy', /did you mean file \(content\) or template \(src\)\?/],
    ['postgresDatabase', /did you mean postgres_database\?/],
  ])('an unknown type %s suggests the inline name', (type, hint) => {
    expect(errorOf(() => load(play(`${type}: {}`))).message).toMatch(hint);
  });

  it('postgres_hba is refused, saying why', () => {
    expect(Object.keys(REFUSED_INLINE_TYPES)).toEqual(['postgres_hba']);
    const e = errorOf(() => load(play('postgres_hba: { entries: [] }')));
    expect(e.message).toMatch(/^task 't' \(postgres_hba\) of play 'web': not available as an inline task: .*the postgres role writes on every run/);
    expect(e.context).toMatchObject({ line: 4, key: 'postgres_hba' });
  });

  it.each([
    ['apt_source', '{ name: r, uris: "https://r/", suites: s, components: main, key_file: keys/repo.asc }', /not a handler: apt_source is two files/],
    ['meta', 'flush_handlers', /not a handler: flush_handlers runs the handlers/],
  ])('%s cannot be a handler', (type, options, msg) => {
    const e = errorOf(() => load(play(`${type}: ${options}`, 'handlers')));
    expect(e.message).toMatch(/^handler 't' \(\w+\) of play 'web': /);
    expect(e.message).toMatch(msg);
  });

  it('a handler is one resource, e.g. a template or a restart', () => {
    const pb = load('- hosts: all\n  handlers:\n    - name: r\n      service: { name: nginx, state: restarted, ready: { http: "http://127.0.0.1/" } }\n    - name: t\n      template: { path: /etc/motd, src: motd.ejs }\n');
    const [r, t] = pb.plays[0]!.handlers;
    expect(inlineHandlerResource(r!, ctx())).toMatchObject({ type: 'handler', id: 'restart nginx' });
    expect(inlineHandlerResource(t!, ctx({ domain: 'd', extra: 'e' }))).toMatchObject({ type: 'template', id: '/etc/motd' });
  });
});

describe('inline templates', () => {
  it("render with the host's variables, the host name and data, from the playbook's templates/ folder", () => {
    const pb = load(play('template: { path: /etc/motd, src: motd.ejs, data: { extra: 42 }, mode: "0644" }'));
    const t = pb.plays[0]!.tasks[0]!;
    expect(t.options).toMatchObject({ src: join(pb.dir, 'templates', 'motd.ejs') });
    expect(pb.inputFiles).toEqual([join(pb.dir, 'templates', 'motd.ejs')]);
    const used: string[] = [];
    const [r] = inlineTaskResources(t, { ...ctx({ domain: 'example.org', extra: 'overridden by data', unused: 1 }), used: (n) => used.push(n) });
    expect(planOnEmptyHost(r!)).toMatchObject({ action: '+', diff: { after: 'host hs1, domain example.org, extra 42\n' } });
    expect(used).toEqual(['domain']); // host and extra came from the task, not from the host's variables
  });

  it('a variable the template needs and the host lacks is an error naming the playbook, task, host and key', () => {
    const pb = load(play('template: { path: /etc/motd, src: motd.ejs }'));
    const e = errorOf(() => inlineTaskResources(pb.plays[0]!.tasks[0]!, ctx({})));
    expect(e.message).toMatch(/^task 't' \(template\) of play 'web': template failed: .*domain is not defined/s);
    expect(e.context).toMatchObject({ file: pb.file, line: 4, host: 'hs1', key: 'src' });
  });

  it('the variables it reads are reported as used; those named as secrets are registered; sensitive hides the diff', () => {
    const pb = load(play('template: { path: /etc/app.conf, src: sub/secret.ejs, sensitive: true }'));
    const secrets = new SecretRegistry();
    const used: string[] = [];
    const vars = { db_password: 'hunter2-hunter2', other: 'not-a-secret-value', api_token: 'unread-token-value' };
    const [r] = inlineTaskResources(pb.plays[0]!.tasks[0]!, { ...ctx(vars, secrets), used: (n) => used.push(n) });
    expect(used).toEqual(['db_password']);
    expect(secrets.mask('x hunter2-hunter2 not-a-secret-value unread-token-value')).toBe('x ******** not-a-secret-value unread-token-value');
    expect(planOnEmptyHost(r!)).toMatchObject({ diff: { hidden: true } });
  });
});

describe('inline tasks: secrets, files and paths', () => {
  it('a postgres_role password and a debconf password are secrets of the playbook', () => {
    const pb = load(`- hosts: all
  tasks:
    - postgres_role: { name: app, password: "s3cret-pass" }
    - debconf: { package: p, question: p/pw, vtype: password, value: "debconf-secret" }
    - debconf: { package: p, question: p/name, vtype: string, value: "not-secret" }
`);
    expect(pb.secretValues.sort()).toEqual(['debconf-secret', 's3cret-pass']);
  });

  it('apt_source: the key file is read when loading (relative to the playbook) and is an input; a key as text works too', () => {
    const pb = load(`- hosts: all
  tasks:
    - apt_source: { name: a, uris: "https://a/", suites: s, components: main, key_file: keys/repo.asc }
    - apt_source:
        name: b
        uris: "https://b/"
        suites: s
        components: main
        key: |
${KEY.split('\n').map((l) => (l ? `          ${l}` : '')).join('\n')}
    - apt_source: { name: c, uris: "https://c/", suites: s, components: main, state: absent }
`);
    const [a, b, c] = pb.plays[0]!.tasks;
    expect(pb.inputFiles).toEqual([join(pb.dir, 'keys', 'repo.asc')]);
    for (const t of [a!, b!]) {
      const [key] = inlineTaskResources(t, ctx());
      expect(planOnEmptyHost(key!)).toMatchObject({ action: '+', diff: { after: KEY } });
    }
    expect(inlineTaskResources(c!, ctx()).map((r) => r.id)).toEqual(['/etc/apt/keyrings/c.asc', '/etc/apt/sources.list.d/c.sources']);
  });

  it('release: a local tarball is relative to the playbook (or absolute); a URL is left to the host', () => {
    const elsewhere = writeTree(tempDir(), { 'c.tar': TARBALL });
    const dir = playbookDir(`- hosts: all
  tasks:
    - release: { dir: /srv/a, version: "1", source: files/app.tar, sha256: ${TARBALL_SHA} }
    - release: { dir: /srv/b, version: "1", source: "https://example.org/b.tar", sha256: ${TARBALL_SHA} }
    - release: { dir: /srv/c, version: "1", source: ${join(elsewhere, 'c.tar')}, sha256: ${TARBALL_SHA} }
`);
    // Loaded from another working folder: the path is still the playbook's.
    const pb = loadPlaybook(join(dir, 'site.yml'), tempDir());
    const [a, b, c] = pb.plays[0]!.tasks;
    expect(a!.options).toMatchObject({ source: join(dir, 'files', 'app.tar') });
    expect(b!.options).toMatchObject({ source: 'https://example.org/b.tar' });
    expect(c!.options).toMatchObject({ source: join(elsewhere, 'c.tar') });
    expect(pb.inputFiles).toEqual([]); // a tarball is pinned by its sha256, not digested as an input
    expect(inlineTaskResources(a!, ctx())[0]).toMatchObject({ type: 'release', id: '/srv/a' });
  });

  it('meta: flush_handlers gives the engine its marker', () => {
    const pb = load('- hosts: all\n  tasks:\n    - meta: flush_handlers\n');
    expect(inlineTaskResources(pb.plays[0]!.tasks[0]!, ctx())[0]).toMatchObject({ marker: 'flush_handlers' });
  });

  it('service: reloaded with readiness, stopped, and a plain start', () => {
    const pb = load(`- hosts: all
  tasks:
    - service: { name: a, state: reloaded }
    - service: { name: b, state: stopped, enabled: false }
`);
    const [a, b] = pb.plays[0]!.tasks.map((t) => inlineTaskResources(t, ctx())[0]!);
    expect(a).toMatchObject({ type: 'handler', id: 'reload a' });
    expect(b!.plan({ LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' })).toMatchObject({ action: '~' });
  });

  it('a change to a template file after loading is read when building (the build renders the file)', () => {
    const dir = playbookDir(play('template: { path: /etc/motd, src: motd.ejs }'));
    const pb = loadPlaybook('site.yml', dir);
    writeFileSync(join(dir, 'templates', 'motd.ejs'), 'v2 <%= host %>\n');
    const [r] = inlineTaskResources(pb.plays[0]!.tasks[0]!, ctx());
    expect(planOnEmptyHost(r!)).toMatchObject({ diff: { after: 'v2 hs1\n' } });
  });
});
