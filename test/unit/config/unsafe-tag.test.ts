// `!unsafe`, as Ansible reads it: the text as written, never evaluated as Jinja, in every file
// that holds variables (inventory, host_vars, playbook vars, -e @file).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadYaml } from '../../../src/config/yaml-file.ts';
import { UserError } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { hostLayer, parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { templateVars, TemplateWorld } from '../../../src/vars/template-vars.ts';
import { tempDir, writeTree } from '../helpers.ts';

const TEXT = `{{ greeting }} {% if x %} {# c #} 'q' "d" \\ end`;

describe('!unsafe', () => {
  it.each([
    ['a quoted string', `v: !unsafe ${JSON.stringify(TEXT)}\n`, TEXT],
    ['a block scalar', `v: !unsafe |\n  {{ a }}\n  b\n`, '{{ a }}\nb\n'],
    ['a number stays its text', 'v: !unsafe 0600\n', '0600'],
  ])('reads %s as the text written, and lists it as a literal', (_, text, want) => {
    const d = tempDir();
    writeTree(d, { 'f.yml': text });
    const y = loadYaml(join(d, 'f.yml'));
    expect((y.data as { v: unknown }).v).toBe(want);
    expect(y.literals).toEqual([want]);
    expect(y.secrets).toEqual([]);
  });

  it.each([
    ['a mapping', 'v: !unsafe { a: 1 }\n', /!unsafe takes a string/],
    ['a key', '!unsafe k: 1\n', /!unsafe is for values/],
  ])('refuses %s, naming file and line', (_, text, message) => {
    const d = tempDir();
    writeTree(d, { 'f.yml': text });
    expect(() => loadYaml(join(d, 'f.yml'))).toThrow(UserError);
    expect(() => loadYaml(join(d, 'f.yml'))).toThrow(message);
  });

  it('an inventory value written !unsafe is never templated; a plain one beside it is', () => {
    const d = tempDir();
    writeTree(d, {
      'inv/hosts.yml': 'all:\n  vars:\n    greeting: hello\n  hosts:\n    h1:\n',
      'inv/host_vars/h1.yml': `raw: !unsafe ${JSON.stringify(TEXT)}\ntemplated: "{{ greeting }}"\n`,
    });
    const inv = loadInventory(join(d, 'inv'));
    expect(inv.literalValues).toEqual([TEXT]);
    const world = new TemplateWorld(inv, (n) => hostLayer(inv.hosts.get(n)!), new SecretRegistry(), undefined, new Set(inv.literalValues));
    const errors: UserError[] = [];
    const values = templateVars(hostLayer(inv.hosts.get('h1')!), world, 'h1', errors).values;
    expect(errors).toEqual([]);
    expect(values).toMatchObject({ raw: TEXT, templated: 'hello' });
  });

  it('an -e @file value written !unsafe is a literal of the extra vars', () => {
    const d = tempDir();
    writeTree(d, { 'e.yml': `x: !unsafe "{{ y }}"\n` });
    expect(parseExtraVars([`@${join(d, 'e.yml')}`]).literalValues).toEqual(['{{ y }}']);
  });
});
