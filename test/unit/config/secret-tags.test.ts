import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadYaml } from '../../../src/config/yaml-file.ts';
import { UserError } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { tempDir, writeTree } from '../helpers.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The error loadYaml throws, as the user sees it (file:line: message). */
function errorOf(file: string): string {
  try {
    loadYaml(file);
  } catch (e) {
    if (e instanceof UserError) return e.toString();
    throw e;
  }
  throw new Error('no error');
}

describe('secret tags: values', () => {
  it.each<[string, Record<string, string>, string, Record<string, unknown>]>([
    ['!env: a set variable', { MXP_T_SECRET: 's3cret' }, 'a: 1\npw: !env MXP_T_SECRET\n', { a: 1, pw: 's3cret' }],
    ['!env: a set but empty variable is the empty string', { MXP_T_SECRET: '' }, 'pw: !env MXP_T_SECRET\n', { pw: '' }],
    ['!env: digits stay a string', { MXP_T_SECRET: '0123' }, 'pw: !env MXP_T_SECRET\n', { pw: '0123' }],
    ['!file: relative to the YAML file, no trailing newline', {}, 'pw: !file secret.txt\n', { pw: 'from-file' }],
    ['!file: one trailing newline stripped, not two', {}, 'pw: !file two-newlines.txt\n', { pw: 'line\n' }],
    ['!file: inside a list and a nested mapping', {}, 'l: [a, !file secret.txt]\nm: { k: !file secret.txt }\n', { l: ['a', 'from-file'], m: { k: 'from-file' } }],
    ['!command: stdout, one trailing newline stripped', {}, 'pw: !command printf "out\\n\\n"\n', { pw: 'out\n' }],
    ['!command: runs in the YAML file\'s folder', {}, 'pw: !command cat secret.txt\n', { pw: 'from-file' }],
    ['!command: stderr is not part of the value', {}, 'pw: !command echo noise >&2; echo value\n', { pw: 'value' }],
    ['!command: a block scalar is a script', {}, 'pw: !command |\n  x=abc\n  echo "$x$x"\n', { pw: 'abcabc' }],
    ['! and !!str are still plain strings', {}, 'a: ! 12\nb: !!str 13\n', { a: '12', b: '13' }],
  ])('%s', (_name, env, text, want) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const d = writeTree(tempDir(), { 'vars.yml': text, 'secret.txt': 'from-file', 'two-newlines.txt': 'line\n\n' });
    const y = loadYaml(join(d, 'vars.yml'));
    expect(y.data).toEqual(want);
    const tagged = Object.values(want).flatMap((v) => (typeof v === 'object' ? Object.values(v as object) : [v]));
    for (const v of y.secrets) expect(tagged).toContain(v);
    expect(y.secrets).not.toContain('');
    expect(y.secrets).not.toContain('a');
  });

  it('secrets lists each tagged value once, and nothing else', () => {
    vi.stubEnv('MXP_T_SECRET', 'e1');
    const d = writeTree(tempDir(), { 'vars.yml': 'a: !env MXP_T_SECRET\nb: !env MXP_T_SECRET\nc: !file s.txt\nd: plain\n', 's.txt': 'f1\n' });
    expect(loadYaml(join(d, 'vars.yml')).secrets.sort()).toEqual(['e1', 'f1']);
  });

  it('!file: ~ is the home folder', () => {
    vi.stubEnv('HOME', writeTree(tempDir(), { '.secrets/pw': 'from-home\n' }));
    const d = writeTree(tempDir(), { 'vars.yml': 'pw: !file ~/.secrets/pw\n' });
    expect(loadYaml(join(d, 'vars.yml')).data).toEqual({ pw: 'from-home' });
  });

  it('!command: the same command in one file (or an alias of it) runs once', () => {
    const d = writeTree(tempDir(), {
      'vars.yml': 'a: &pw !command echo x >> count; echo v\nb: *pw\nc: !command echo x >> count; echo v\n',
    });
    expect(loadYaml(join(d, 'vars.yml')).data).toEqual({ a: 'v', b: 'v', c: 'v' });
    const count = loadYaml(join(writeTree(d, { 'n.yml': 'n: !file count\n' }), 'n.yml')).data as { n: string };
    expect(count.n).toBe('x');
  });

  it('line numbers of tagged values are kept (origins)', () => {
    vi.stubEnv('MXP_T_SECRET', 'v');
    const d = writeTree(tempDir(), { 'vars.yml': 'a: 1\n\npw: !env MXP_T_SECRET\n' });
    expect(loadYaml(join(d, 'vars.yml')).lineOf(['pw'])).toBe(3);
  });
});

describe('secret tags: errors name the file and line', () => {
  it.each<[string, string, RegExp]>([
    ['!env: an unset variable', 'a: 1\npw: !env MXP_T_UNSET_VAR\n', /vars\.yml:2: !env MXP_T_UNSET_VAR: the environment variable MXP_T_UNSET_VAR is not set/],
    ['!env: no name', 'pw: !env\n', /vars\.yml:1: !env needs the name of an environment variable/],
    ['!file: a missing file', 'a: 1\nb: 2\npw: !file nope.txt\n', /vars\.yml:3: !file nope\.txt: cannot read .*nope\.txt \(ENOENT\)/],
    ['!file: a folder', 'pw: !file .\n', /vars\.yml:1: !file \.: cannot read .* \(EISDIR\)/],
    ['!command: non-zero exit, with its status and stderr', 'pw: !command echo the-stdout; echo went wrong >&2; exit 3\n', /vars\.yml:1: !command .*: exited with status 3: went wrong$/],
    ['!command: non-zero exit, empty stderr', 'pw: !command exit 1\n', /vars\.yml:1: !command exit 1: exited with status 1, with nothing on stderr/],
    ['!command: killed by a signal', 'pw: !command kill -9 $$\n', /vars\.yml:1: !command .*: was killed by SIGKILL/],
    ['an unknown tag', 'a: 1\npw: !foo bar\n', /vars\.yml:2: unknown YAML tag !foo \(mxplay knows !env, !file, !command, !vault, !unsafe\)/],
    ['an unknown !! tag', 'pw: !!foo bar\n', /vars\.yml:1: unknown YAML tag !!foo/],
    ['an unknown tag on a mapping', 'pw: !foo { a: 1 }\n', /vars\.yml:1: unknown YAML tag !foo/],
    ['Ansible Vault: a damaged value', 'pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n', /vars\.yml:1: Ansible Vault: this value is not a complete vault text/],
    ['a tag on a key', '!env HOME: 1\n', /vars\.yml:1: !env is for values, not keys/],
    ['a tag on a list', 'pw: !file [a, b]\n', /vars\.yml:1: !file takes a string \(the path of a file\), not a list or mapping/],
  ])('%s', (_name, text, want) => {
    const d = writeTree(tempDir(), { 'vars.yml': text });
    expect(errorOf(join(d, 'vars.yml'))).toMatch(want);
  });

  it('!command: the error never holds its stdout', () => {
    const d = writeTree(tempDir(), { 'vars.yml': 'pw: !command echo hunter2; echo oops >&2; exit 2\n' });
    const e = errorOf(join(d, 'vars.yml'));
    expect(e).toMatch(/oops/);
    expect(e.replace('echo hunter2', '')).not.toMatch(/hunter2/);
  });

  it('!file: an unreadable file', () => {
    if (process.getuid?.() === 0) return; // root reads any file
    const d = writeTree(tempDir(), { 'vars.yml': 'pw: !file s.txt\n', 's.txt': 'x' });
    chmodSync(join(d, 's.txt'), 0);
    expect(errorOf(join(d, 'vars.yml'))).toMatch(/vars\.yml:1: !file s\.txt: cannot read .* \(EACCES\)/);
  });
});

describe('secret tags where variables are read', () => {
  it('-e @file: values and secretValues', () => {
    vi.stubEnv('MXP_T_SECRET', 'db-pw');
    const d = writeTree(tempDir(), { 'secrets.yml': 'db_password: !env MXP_T_SECRET\nmacaroon: !file m.txt\n', 'm.txt': 'mac\n' });
    const l = parseExtraVars([`@${join(d, 'secrets.yml')}`, 'port=1']);
    expect(l.values).toEqual({ db_password: 'db-pw', macaroon: 'mac', port: 1 });
    expect(l.secretValues.sort()).toEqual(['db-pw', 'mac']);
    expect(l.origin('db_password')).toMatchObject({ line: 1 });
    expect(l.origin('macaroon')).toMatchObject({ line: 2 });
  });

  it('-e @file: an unset !env is an error naming the file and line', () => {
    const d = writeTree(tempDir(), { 'secrets.yml': 'a: 1\ndb_password: !env MXP_T_UNSET_VAR\n' });
    expect(() => parseExtraVars([`@${join(d, 'secrets.yml')}`])).toThrow(UserError);
    try {
      parseExtraVars([`@${join(d, 'secrets.yml')}`]);
    } catch (e) {
      expect(String(e)).toMatch(/secrets\.yml:2: !env MXP_T_UNSET_VAR/);
    }
  });

  it('inventory, group_vars and host_vars: values, origins, secretValues; a group_vars !command runs once for all its hosts', () => {
    vi.stubEnv('MXP_T_MASTER', 'master-from-env');
    const cwd = writeTree(tempDir(), {
      'inventory/prod/hosts.yml': 'all:\n  vars:\n    mxplay_master_secret: !env MXP_T_MASTER\n  children:\n    matrix:\n      hosts:\n        hs1:\n        hs2:\n          token: !file ../../tok.txt\n',
      'inventory/prod/group_vars/matrix.yml': '# a comment\nturn_secret: !command echo run >> ran.log; echo turn-s\n',
      'inventory/prod/host_vars/hs1.yml': 'ldap_password: !file ../../../ldap.txt\n',
      'tok.txt': 'tok\n',
      'ldap.txt': 'ldap',
    });
    const inv = loadInventory('prod', cwd);
    const hs1 = inv.hosts.get('hs1')!;
    const hs2 = inv.hosts.get('hs2')!;
    expect(hs1.vars).toMatchObject({ mxplay_master_secret: 'master-from-env', turn_secret: 'turn-s', ldap_password: 'ldap' });
    expect(hs2.vars).toMatchObject({ mxplay_master_secret: 'master-from-env', turn_secret: 'turn-s', token: 'tok' });
    expect(hs1.origins.mxplay_master_secret).toMatchObject({ line: 3 });
    expect(hs1.origins.turn_secret).toMatchObject({ line: 2, layer: 'group_vars/matrix' });
    expect(inv.secretValues.sort()).toEqual(['ldap', 'master-from-env', 'tok', 'turn-s']);
    const ran = loadYaml(join(writeTree(cwd, { 'inventory/prod/group_vars/n.yaml.txt': 'n: !file ran.log\n' }), 'inventory/prod/group_vars/n.yaml.txt')).data;
    expect(ran).toEqual({ n: 'run' });
  });

  it('group_vars: an unknown tag is an error naming the file and line', () => {
    const cwd = writeTree(tempDir(), {
      'inventory/prod/hosts.yml': 'all:\n  hosts:\n    hs1:\n',
      'inventory/prod/group_vars/all.yml': 'a: 1\nsecret: !vaultt |\n  $ANSIBLE_VAULT;1.1;AES256\n',
    });
    expect(() => loadInventory('prod', cwd)).toThrow(/unknown YAML tag !vaultt/);
    try {
      loadInventory('prod', cwd);
    } catch (e) {
      expect(String(e)).toMatch(/group_vars\/all\.yml:2: unknown YAML tag !vaultt/);
    }
  });

  it('playbook vars: values and secretValues', () => {
    vi.stubEnv('MXP_T_SECRET', 'play-secret');
    const cwd = writeTree(tempDir(), { 'site.yml': '- hosts: all\n  vars:\n    db_password: !env MXP_T_SECRET\n  roles: []\n' });
    const pb = loadPlaybook('site.yml', cwd);
    expect(pb.plays[0]!.vars).toEqual({ db_password: 'play-secret' });
    expect(pb.secretValues).toEqual(['play-secret']);
  });
});
