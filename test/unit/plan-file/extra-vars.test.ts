import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { compareHosts } from '../../../src/plan-file/compare.ts';
import { canonicalJson } from '../../../src/plan-file/digest.ts';
import { readPlanFile, type PlanHost } from '../../../src/plan-file/format.ts';
import { buildInputFiles, extraVarsForApply, planInputs, registerLikelySecrets, storedExtraVars } from '../../../src/plan-file/inputs.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree, userErrorOf as errorOf } from '../helpers.ts';

const noHosts = () => loadInventory('192.0.2.1,');

describe('registerLikelySecrets: exactly the values under secret-looking keys', () => {
  it.each([
    ['-e key=value', ['db_password=pw-value-1'], ['pw-value-1']],
    ['-e with a plain key', ['size=100000000'], []],
    ['-e @file is a file, whatever its name', ['@db_password=x.yml'], []],
    ['-e without =', ['db_passwordX'], []],
    ['inline: a number under a secret key', ['{"db_password": 12345678}'], ['12345678']],
    ['inline: a list under a secret key', ['{"api_tokens_token": ["tok-aaaaaa1", "tok-bbbbbb2"]}'], ['tok-aaaaaa1', 'tok-bbbbbb2']],
    ['inline: secret keys inside a list', ['{"users": [{"name": "alice-long", "password": "alice-pw-1"}]}'], ['alice-pw-1']],
    ['inline: a mapping under a secret key: its values', ['{"smtp_password": {"a": "nested-pw-1"}}'], ['nested-pw-1']],
  ])('%s', (_n, args, want) => {
    const s = new SecretRegistry();
    registerLikelySecrets(noHosts(), args, s);
    expect(s.size).toBe(want.length);
    for (const v of want) expect(s.has(v)).toBe(true);
  });

  it('inventory values: strings under secret-looking keys', () => {
    const d = writeTree(tempDir(), { 'hosts.yml': 'all:\n  hosts:\n    h:\n      db_password: inv-pw-123\n      api_token: 12345678\n      name_x: plain-value\n' });
    const s = new SecretRegistry();
    registerLikelySecrets(loadInventory(join(d, 'hosts.yml')), [], s);
    expect(s.size).toBe(1);
    expect(s.has('inv-pw-123')).toBe(true);
  });

  it('a malformed inline -e is named as the command line', () => {
    expect(errorOf(() => registerLikelySecrets(noHosts(), ['{"a": [1, 2'], new SecretRegistry())).toString()).toMatch(/^command line \(-e\).*malformed YAML/);
    expect(errorOf(() => storedExtraVars(['{"a": [1, 2'], new SecretRegistry())).toString()).toMatch(/^command line \(-e\).*malformed YAML/);
  });
});

describe('storedExtraVars: what a plan may keep', () => {
  const known = new SecretRegistry();
  known.add('known-secret-77');
  known.add('12345678');

  it.each([
    ['an @file, even with = and a secret word in its name', '@db_password=x.yml'],
    ['a flag without =', 'verbose'],
    ['an inline mapping whose text holds key=value', '{"note": "my_password=abcdef"}'],
  ])('%s: kept as written', (_n, arg) => expect(storedExtraVars([arg], known)).toEqual([arg]));

  it.each([
    ['a number known as a secret', '{"port": 12345678}'],
    ['a known secret in a list', '{"list": ["x", "known-secret-77"]}'],
    ['one known secret among plain values', '{"a": "known-secret-77", "b": "plain"}'],
  ])('an inline mapping with %s: refused', (_n, arg) => {
    expect(() => storedExtraVars([arg], known)).toThrow(/holding a secret cannot go into a plan/);
  });
});

describe('extraVarsForApply: what apply says about -e', () => {
  const saved = ['a=1', { key: 'db_password', secret: true as const }, { key: 'api_token', secret: true as const }];

  it('a value never shown: an inline mapping, whatever it holds', () => {
    const e = errorOf(() => extraVarsForApply(saved, ['{"x": "pw=3"}'], 'plan.json'));
    expect(e.message).toMatch(/got an inline -e '\{\.\.\.\}'/);
    expect(e.message).not.toContain('pw');
    expect(e.context.file).toBe('plan.json');
  });

  it.each([
    ['an @file by its name', '@vars.yml', "got @vars.yml: other"],
    ['a word without =, cut at 40 characters', 'x'.repeat(50), `got '${'x'.repeat(40)}': other`],
    ['a key by its name only', 'size=hidden-value', "got 'size': other"],
  ])('%s', (_n, arg, want) => {
    const e = errorOf(() => extraVarsForApply(saved, [arg], 'plan.json'));
    expect(e.message).toContain(want);
    expect(e.message).toContain('(db_password, api_token)');
  });

  it('a plan without secret vars: none expected', () => {
    expect(errorOf(() => extraVarsForApply(['a=1'], ['b=2'], 'p.json')).message).toContain('the secret extra vars the plan was made with (none)');
  });

  it('every missing secret named, with the way to avoid it next time', () => {
    const e = errorOf(() => extraVarsForApply(saved, [], 'plan.json'));
    expect(e.message).toContain('mxplay apply plan.json -e db_password=… -e api_token=… (a secret in argv is seen by every process and kept in shell history');
    expect(e.context.file).toBe('plan.json');
  });

  it('all given: in the order of the plan', () => {
    expect(extraVarsForApply(saved, ['api_token=t-1', 'db_password=p-1'], 'plan.json')).toEqual(['a=1', 'db_password=p-1', 'api_token=t-1']);
  });
});

describe('the files a plan is made from', () => {
  const project = () => writeTree(tempDir(), {
    'site.yml': '- hosts: all\n  tasks:\n    - template: { path: /etc/motd, src: motd.ejs }\n',
    'templates/motd.ejs': 'hi\n',
    'hosts.yml': 'all:\n  hosts:\n    h: {}\n',
    'vars.yml': 'a: 1\n',
    'roles/r/tasks.ts': '', 'roles/r/b.ejs': '', 'roles/r/a.ejs': '', 'roles/r/C.ejs': '', 'roles/r/_x': '',
    'roles/r/.hidden': '', 'roles/.git/config': '', 'roles/r/node_modules/m/index.js': '',
  });

  it('real files only, every one absolute, in a stable order, none hidden or in node_modules', () => {
    const dir = project();
    const pb = loadPlaybook(join(dir, 'site.yml'));
    const files = buildInputFiles(pb, loadInventory(join(dir, 'hosts.yml')), [`@${join(dir, 'vars.yml')}`, 'k=v', 'flag']);
    expect(files.every((f) => isAbsolute(f) && existsSync(f))).toBe(true);
    expect(files.filter((f) => f.startsWith(dir)).map((f) => relative(dir, f))).toEqual([
      'site.yml', 'hosts.yml', 'roles/r/C.ejs', 'roles/r/_x', 'roles/r/a.ejs', 'roles/r/b.ejs', 'roles/r/tasks.ts', 'templates/motd.ejs', 'vars.yml',
    ]);
  });

  it('a project without a roles/ folder', () => {
    const dir = writeTree(tempDir(), { 'site.yml': '- hosts: all\n', 'hosts.yml': 'all:\n  hosts:\n    h: {}\n' });
    mkdirSync(join(dir, 'empty'));
    const pb = loadPlaybook(join(dir, 'site.yml'));
    const files = buildInputFiles({ ...pb, inputFiles: undefined }, loadInventory(join(dir, 'hosts.yml')), []);
    expect(files.filter((f) => f.startsWith(dir)).map((f) => relative(dir, f))).toEqual(['site.yml', 'hosts.yml']);
  });

  it('planInputs: the options given, and only those', () => {
    const dir = project();
    const pb = loadPlaybook(join(dir, 'site.yml'));
    const inv = loadInventory(join(dir, 'hosts.yml'));
    const s = new SecretRegistry();
    const base = { playbook: 'site.yml', inventory: 'hosts.yml', extraVars: ['db_password=p-123456', 'a=1'] };
    const bare = planInputs(pb, inv, { ...base, tags: [], skipTags: [] }, s);
    expect(Object.keys(bare).sort()).toEqual(['extraVars', 'files', 'inventory', 'playbook', 'secrets']);
    expect(bare.extraVars).toEqual([{ key: 'db_password', secret: true }, 'a=1']);
    expect(bare.secrets).toMatch(/^[0-9a-f]{64}$/);
    expect(bare.files.length).toBeGreaterThan(5);
    expect(planInputs(pb, inv, { ...base, limit: 'h', tags: ['t'], skipTags: ['u'] }, s)).toMatchObject({ limit: 'h', tags: ['t'], skipTags: ['u'] });
  });
});

describe('compareHosts: handlers and hosts', () => {
  const h = (pendingHandlers: string[], o: Partial<PlanHost> = {}): PlanHost => ({ host: 'h1', status: 'planned', pendingHandlers, changes: [], resources: [], ...o });
  it.each([
    ['two handlers pending, none now', ['a', 'b'], [], ['h1: handlers pending on the host changed since the plan was made (plan: a, b; now: none)']],
    ['other handlers now', ['a'], ['b', 'c'], ['h1: handlers pending on the host changed since the plan was made (plan: a; now: b, c)']],
    ['the same names run together differ', ['a', 'b'], ['ab'], ['h1: handlers pending on the host changed since the plan was made (plan: a, b; now: ab)']],
    ['the same', ['a', 'b'], ['a', 'b'], []],
  ])('%s', (_n, saved, now, want) => expect(compareHosts([h(saved)], [h(now)])).toEqual(want));

  it('a host that failed now without a message', () => {
    expect(compareHosts([h([])], [h([], { status: 'failed' })])).toEqual(['h1: failed: cannot check it against the plan']);
  });
});

describe('canonicalJson', () => {
  it('keys sorted at every level, arrays kept in order', () => {
    expect(canonicalJson({ b: 1, a: { z: [3, 1], y: null, x: 'q' }, C: 0 })).toBe('{"C":0,"a":{"x":"q","y":null,"z":[3,1]},"b":1}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});

describe('readPlanFile', () => {
  it('a plan that cannot be read: the reason, naming the file', () => {
    const e = errorOf(() => readPlanFile('/nonexistent/plan.json'));
    expect(e.message).toBe('cannot read the plan: ENOENT');
    expect(e.context.file).toBe('/nonexistent/plan.json');
  });

  it('a folder given as the plan', () => {
    expect(errorOf(() => readPlanFile(tempDir())).message).toBe('cannot read the plan: EISDIR');
  });
});
