import { describe, expect, it } from 'vitest';
import { parseExtraVars } from '../../../src/roles/vars.ts';

// -e in each form ansible-playbook takes: what each line gives, or how it is refused.
describe('-e reads k=v, @file and an inline mapping', () => {
  it.each([
    [['port=8008'], { port: 8008 }],
    [['flag=yes'], { flag: true }],
    [['name=a=b'], { name: 'a=b' }],
    [['{"port": 8008, "names": ["a", "b"], "nested": {"x": null}}'], { port: 8008, names: ['a', 'b'], nested: { x: null } }],
    [['{port: 8008, flag: yes}'], { port: 8008, flag: true }], // YAML flow, read as Ansible reads YAML
    [['  {"a": "x"}'], { a: 'x' }],
    [['a=1', '{"a": 2}'], { a: 2 }], // later wins
    [['{"a": 2}', 'a=1'], { a: 1 }],
  ])('%j → %j', (args, values) => {
    expect(parseExtraVars(args).values).toEqual(values);
  });

  it.each([
    [['[1, 2]'], /^-e expects key=value, @file.yml or a JSON mapping/],
    [['{"a": 1'], /^command line \(-e\)(:\d+)?: malformed YAML: Flow map must end/],
    [['=x'], /^-e expects key=value/],
    [['{"a": 1, "a": 2}'], /^command line \(-e\)(:\d+)?: malformed YAML: Map keys must be unique/], // a key twice: refused, as in files
  ])('%j is refused', (args, message) => {
    // The whole error as the CLI prints it: where, then what.
    expect(() => {
      try {
        parseExtraVars(args);
      } catch (e) {
        throw new Error(String(e));
      }
    }).toThrow(message);
  });

  it('an inline mapping says where its values came from', () => {
    expect(parseExtraVars(['{"a": 1}']).origin('a')).toMatchObject({ file: 'command line (-e)', layer: 'extra vars (-e)' });
  });
});
