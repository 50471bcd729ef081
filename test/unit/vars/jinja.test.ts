import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { UserError, UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { hostLayer, mergeLayers, parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { isTemplate, parsePythonLiteral, renderTemplate } from '../../../src/vars/jinja.ts';
import { templateVars, TemplateWorld } from '../../../src/vars/template-vars.ts';
import { tempDir, writeTree } from '../helpers.ts';

const FIX = resolve(__dirname, '../../fixtures/jinja');

/** Every host's variables evaluated, as the build evaluates them (inventory + -e). */
function evaluate(invPath: string, extra: string[] = [], secrets = new SecretRegistry()) {
  const inv = loadInventory(invPath);
  const e = parseExtraVars(extra);
  const raw = (h: string) => (inv.hosts.has(h) ? mergeLayers([hostLayer(inv.hosts.get(h)!), e]) : undefined);
  const world = new TemplateWorld(inv, raw, secrets);
  const errors: UserError[] = [];
  const hosts = Object.fromEntries([...inv.hosts.keys()].map((h) => [h, templateVars(raw(h)!, world, h, errors).values]));
  return { hosts, errors: errors.map(String), world, secrets };
}

describe('Jinja in variables: the values Ansible gives', () => {
  // expected.json is what ansible-core 2.14 gave for each variable of fixtures/jinja/inventory
  // (make-expected.sh: ansible-playbook -c local, lookup('vars', …) | to_json, -e overridden=from-e).
  it('every variable of the fixture inventory, on every host, with -e', () => {
    const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const { hosts, errors } = evaluate(join(FIX, 'inventory'), ['overridden=from-e']);
    expect(errors).toEqual([]);
    for (const [h, vars] of Object.entries(expected)) {
      for (const [k, want] of Object.entries(vars)) {
        const got = k in hosts[h]! ? hosts[h]![k] : '__undefined__';
        expect({ host: h, key: k, value: got }).toEqual({ host: h, key: k, value: want });
      }
    }
  });

  it.each<[string, string, unknown]>([
    ['a number is text (jinja2_native off)', '{{ 5 }}', '5'],
    ['a list stays a list', "{{ ['a', 1] }}", ['a', 1]],
    ['a bool stays a bool', '{{ 1 == 1 }}', true],
    ['text that reads as a Python literal becomes one', "[{{ 1 }}, 'x', None, True]", [1, 'x', null, true]],
    ['text that does not stays text', '[a, b]', '[a, b]'],
    ['text from to_json stays text', '{{ [1] | to_json }}', '[1]'],
    ['text from a filter with arguments stays text', "{{ {'a': 1} | to_nice_json(2) }}", '{\n  "a": 1\n}'],
    // Equal texts compare equal (they were unequal objects once). The result stays text: Ansible's
    // test is a regex on the template, which matches the last "| to_json) }}" here too.
    ['two filter texts compare as text', '{{ ([1] | to_json) == ([1] | to_json) }}', 'True'],
    ['two filter texts compare as text, as a condition', '{{ ([1] | to_json) == ([1] | to_json) and 1 == 1 }}', true],
    ['a filter text is found in a list of texts', "{{ (1 | string) in ['1', '2'] }}", true],
    ['None alone is None; inside text it is nothing', '{{ None }}', null],
    ['inside text, None prints nothing', 'a{{ None }}b', 'ab'],
    ['Python str() of a list inside text', "x{{ ['a', \"it's\"] }}", 'x[\'a\', "it\'s"]'],
    ['backslashes inside {{ }} are literal, as Ansible escapes them', "{{ 'a.b' | regex_replace('(\\w)\\.(\\w)', '\\2-\\1') }}", 'b-a'],
    ['int, bool, default, ternary, join, length', "{{ '42' | int + 1 }} {{ 'on' | bool }} {{ x | default('d') }} {{ true | ternary('y', 'n') }} {{ [1,2] | join('-') }} {{ 'abc' | length }}", '43 True d y 1-2 3'],
  ])('%s: %s', (_n, text, want) => {
    expect(renderTemplate(text, { has: () => false, get: () => undefined })).toEqual(want);
  });

  it('Python literals: strings with escapes, numbers, nesting, tuples; anything else is not one', () => {
    expect(parsePythonLiteral("{'a': [1, -2.5, 'x\\'y', \"q\"], 'b': (1,), 'c': None}")).toEqual({ ok: true, value: { a: [1, -2.5, "x'y", 'q'], b: [1], c: null } });
    expect(parsePythonLiteral('[1, 2')).toEqual({ ok: false });
    expect(parsePythonLiteral('[a]')).toEqual({ ok: false });
  });
});

describe('Jinja in variables: errors name the file, line, host and key', () => {
  it.each<[string, string, RegExp]>([
    ['an undefined variable', 'x: "{{ nope }}"', /hosts\.yml:4, host h1, key x: cannot evaluate "\{\{ nope \}\}": 'nope' is undefined$/],
    ['an undefined variable given to a filter', 'x: "{{ nope | lower }}"', /key x: .*'nope' is undefined \(filter lower\)$/],
    ['an undefined variable in a condition', 'x: "{% if nope %}a{% endif %}"', /key x: .*'nope' is undefined$/],
    ['an undefined attribute', 'x: "{{ hostvars[\'h1\'].nope }}"', /key x: .*hostvars\['h1'\]\['nope'\] is undefined$/],
    ['an unknown filter', 'x: "{{ 1 | frobnicate }}"', /key x: .*filter not found: frobnicate$/],
    ['a syntax error', 'x: "{{ 1 + }}"', /hosts\.yml:4, host h1, key x: cannot evaluate/],
    ['an unclosed expression', 'x: "{{ a "', /key x: .*syntax error: \{\{ is never closed by \}\}$/],
    ['a loop', 'x: "{{ y }}"\n      y: "{{ x }}"', /hosts\.yml:4, host h1, key x: recursive loop in templates: x → y → x$/],
  ])('%s', (_n, vars, want) => {
    const cwd = writeTree(tempDir(), { 'hosts.yml': `all:\n  hosts:\n    h1:\n      ${vars}\n` });
    const { errors } = evaluate(join(cwd, 'hosts.yml'));
    expect(errors[0]).toMatch(want);
  });

  it('an error in a variable another one names points at that variable', () => {
    const cwd = writeTree(tempDir(), { 'hosts.yml': 'all:\n  vars:\n    a: "{{ b }}"\n    b: "{{ nope }}"\n  hosts:\n    h1:\n' });
    expect(evaluate(join(cwd, 'hosts.yml')).errors).toEqual([expect.stringMatching(/hosts\.yml:4, host h1, key b: .*'nope' is undefined/)]);
  });

  it('values that are not templates are untouched', () => {
    const obj = { nested: [1, 'plain', { deep: true }] };
    const cwd = writeTree(tempDir(), { 'hosts.yml': 'all:\n  hosts:\n    h1:\n      n: 5\n      s: "a { b } %"\n' });
    const inv = loadInventory(join(cwd, 'hosts.yml'));
    const world = new TemplateWorld(inv, () => undefined, new SecretRegistry());
    const raw = { values: { ...inv.hosts.get('h1')!.vars, obj }, origin: () => undefined };
    const out = templateVars(raw, world, 'h1', []);
    expect(out).toBe(raw);
    expect(out.values.obj).toBe(obj);
  });
});

describe('Jinja in variables: secrets', () => {
  it('a value made from a secret is a secret; one made from a secret-named variable too', () => {
    const secrets = new SecretRegistry();
    secrets.add('s3cret-value');
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'all:\n  vars:\n    pw: s3cret-value\n    url: "db://u:{{ pw }}@h"\n    b64: "{{ pw | b64encode }}"\n    api_token: tok-123456\n    hdr: "Bearer {{ api_token }}"\n    plain: "{{ inventory_hostname }}-name"\n  hosts:\n    h1:\n',
    });
    const { hosts } = evaluate(join(cwd, 'hosts.yml'), [], secrets);
    expect(secrets.has('db://u:s3cret-value@h')).toBe(true);
    expect(secrets.has(hosts.h1!.b64 as string)).toBe(true);
    expect(secrets.has('Bearer tok-123456')).toBe(true);
    expect(secrets.has('h1-name')).toBe(false);
  });

  it("in a list or mapping, only the templates made from a secret are secrets, not their neighbours", () => {
    const secrets = new SecretRegistry();
    const cwd = writeTree(tempDir(), {
      'hosts.yml': 'all:\n  vars:\n    db_password: pw-0123456789\n    users:\n      - name: synapse\n        password: "{{ db_password }}"\n        note: "{{ inventory_hostname }}"\n  hosts:\n    h1:\n',
    });
    evaluate(join(cwd, 'hosts.yml'), [], secrets);
    expect(secrets.has('pw-0123456789')).toBe(true);
    expect(secrets.has('synapse')).toBe(false);
    expect(secrets.has('h1')).toBe(false);
  });
});

describe('Jinja in variables through the build', { timeout: 60_000 }, () => {
  const SRC = resolve(__dirname, '../../../src/index.ts');
  const ROLE = `import { defineRole, z, file, secret } from '${SRC}';
export default defineRole({
  name: 'web',
  vars: z.object({ web_name: z.string(), web_port: z.string(), web_password: secret().optional(), web_conf: z.string().optional() }),
  tasks: (v) => [file({ path: '/etc/' + v.web_name + '/' + v.web_port + '/' + (v.web_conf ?? ''), content: 'x' })],
});
`;
  async function build(hosts: string, extra: string[] = [], playVars = '') {
    const cwd = writeTree(tempDir(), { 'roles/web/role.ts': ROLE, 'site.yml': `- hosts: all\n${playVars}  roles: [web]\n`, 'inventory/hosts.yml': hosts });
    const secrets = new SecretRegistry();
    try {
      const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars(extra), secrets });
      return { ids: Object.fromEntries(works.map((w) => [w.host.name, w.plays[0]!.items[0]!.resource.id])), secrets };
    } catch (e) {
      if (e instanceof UserErrors) return { errors: e.errors.map(String), secrets };
      throw e;
    }
  }

  it('roles get evaluated values per host, seeing play vars and -e (the final merged value)', async () => {
    const r = await build(
      'all:\n  vars:\n    domain: inv.example\n    web_name: "{{ inventory_hostname }}.{{ domain }}"\n    web_port: "{{ base | int + 1 }}"\n  hosts:\n    h1:\n    h2:\n',
      ['domain=cli.example'],
      '  vars: { base: 8000 }\n',
    );
    expect(r.errors).toBeUndefined();
    expect(r.ids).toEqual({ h1: '/etc/h1.cli.example/8001/', h2: '/etc/h2.cli.example/8001/' });
  });

  it('a value made from a role secret() variable is registered as a secret', async () => {
    const r = await build('all:\n  vars:\n    web_name: a\n    web_port: "1"\n    web_password: pw-of-the-role\n    web_conf: "pw={{ web_password }}"\n  hosts:\n    h1:\n');
    expect(r.errors).toBeUndefined();
    expect(r.secrets.has('pw=pw-of-the-role')).toBe(true);
  });

  it('an expression that cannot be evaluated is an input error of the build', async () => {
    const r = await build('all:\n  vars:\n    web_name: "{{ nme }}"\n    web_port: "1"\n  hosts:\n    h1:\n');
    expect(r.errors).toEqual([expect.stringMatching(/inventory\/hosts\.yml:3, host h1, key web_name: cannot evaluate "\{\{ nme \}\}": 'nme' is undefined$/)]);
  });
});

// expected.json is Ansible's own answer (ansible-core 2.14): test/fixtures/jinja/make-expected.sh runs
// ansible-playbook on the same inventory to make it again (about a minute).

describe('jinjaLiteral: text written so that Jinja gives it back as it is', () => {
  it('hostile text, generated (fast-check), comes back unchanged', async () => {
    const fc = (await import('fast-check')).default;
    const { jinjaLiteral } = await import('../../../src/vars/literal.ts');
    const pieces = fc.constantFrom('{{', '}}', '{%', '%}', '{#', '#}', '{% endraw %}', '{% raw %}', "'", '"', '\\', 'x', ' ', '\n', '[', 'é☃', '{{ x }}', '{% if %}');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }).map((a) => a.join('')), (v) => {
        const lit = jinjaLiteral(v);
        const got = isTemplate(lit) ? renderTemplate(lit, { has: () => false, get: () => undefined }) : lit;
        // Text that reads as a Python literal becomes one (as in Ansible); everything else is itself.
        if (typeof got === 'string') expect(got).toBe(v);
        else expect(/^[[{]|^True$|^False$/.test(v)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
