// YAML as Ansible reads it (PyYAML, YAML 1.1): every value below is what ansible-core 2.14's
// ansible-inventory printed for it, or an error where mxplay refuses Ansible's reading.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-file.ts';
import { parseAnsibleScalar } from '../../../src/config/yaml11.ts';
import { UserError } from '../../../src/errors.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';

const value = (scalar: string) => (parseYaml(`v: ${scalar}\n`, 'vars.yml').data as { v: unknown }).v;

describe('YAML 1.1 scalars, read with Ansible’s meaning', () => {
  it.each<[string, unknown]>([
    ['yes', true], ['Yes', true], ['YES', true], ['on', true], ['On', true], ['ON', true], ['true', true], ['True', true], ['TRUE', true],
    ['no', false], ['No', false], ['NO', false], ['off', false], ['Off', false], ['OFF', false], ['false', false], ['False', false], ['FALSE', false],
    // PyYAML (unlike the YAML 1.1 spec's y/n) reads these as text, so Ansible does
    ['y', 'y'], ['n', 'n'], ['Y', 'Y'], ['N', 'N'], ['tRUE', 'tRUE'], ['yEs', 'yEs'],
    ['0600', 384], ['0755', 493], ['0x1F', 31], ['-0x1f', -31], ['0b101', 5], ['1_000', 1000], ['+12', 12], ['0', 0], ['0_7', 7],
    ['0o17', '0o17'], ['09', '09'], ['1e3', '1e3'], ['1.0e3', '1.0e3'], ['-.5', '-.5'],
    ['1.5', 1.5], ['1.0e+3', 1000], ['.5', 0.5],
    ['~', null], ['null', null], ['Null', null], ['NULL', null], ['', null],
    ['2024-01-02', '2024-01-02'],
    ['8080:80', '8080:80'],
    ['"0600"', '0600'], ["'yes'", 'yes'], ['!!str 0600', '0600'], ['"1:20"', '1:20'],
  ])('%s → %j', (scalar, want) => {
    expect(value(scalar)).toEqual(want);
  });

  it('mode: 0600 is 0o600 and ansible_become: yes is true', () => {
    expect(parseYaml('mode: 0600\nansible_become: yes\n', 'f.yml').data).toEqual({ mode: 0o600, ansible_become: true });
  });

  it('merge keys work as in Ansible', () => {
    expect(parseYaml('a: &a { x: 1, y: 2 }\nb: { <<: *a, z: 3 }\n', 'f.yml').data).toEqual({ a: { x: 1, y: 2 }, b: { x: 1, y: 2, z: 3 } });
  });

  it('keys are read the same way (a yes key is "true", as in ansible-inventory)', () => {
    expect(parseYaml('m: { yes: 1, 0600: 2 }\n', 'f.yml').data).toEqual({ m: { true: 1, 384: 2 } });
  });
});

describe('YAML 1.1 readings mxplay refuses, naming file and line', () => {
  it.each<[string, RegExp]>([
    ['1:20', /1:20 is a sexagesimal .* Ansible reads as 80, while YAML 1\.2 reads the text '1:20': quote it/],
    ['22:22', /Ansible reads as 1342/],
    ['190:20:30', /Ansible reads as 685230/],
    ['1:20.5', /sexagesimal .* 80\.5/],
    ['2001-12-14t21:59:43.10-05:00', /a timestamp in YAML 1\.1, .* quote it/],
    ['2001-12-14 21:59:43', /a timestamp/],
    ['.inf', /infinity/],
    ['-.Inf', /infinity/],
    ['.nan', /not-a-number/],
    ['123456789012345678901', /too large/],
    ['=', /a plain = .* Ansible cannot read/],
  ])('%s', (scalar, message) => {
    let err: unknown;
    try {
      parseYaml(`a: 1\nv: ${scalar}\n`, 'vars.yml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(message);
    expect((err as UserError).context).toMatchObject({ file: 'vars.yml', line: 2 });
  });

  it.each(['!!set { a, b }', '!!binary aGVsbG8=', '!!omap [ a: 1 ]', '!!pairs [ a: 1 ]'])('%s: a YAML 1.1 type Ansible users do not write is an unknown tag', (scalar) => {
    expect(() => parseYaml(`v: ${scalar}\n`, 'vars.yml')).toThrow(/unknown YAML tag/);
  });
});

describe('-e key=value: the same reading as the files', () => {
  it.each<[string, unknown]>([['yes', true], ['0600', 384], ['100', 100], ['1e3', '1e3'], ['', ''], ['text', 'text'], ['y', 'y']])('%s → %j', (text, want) => {
    expect(parseAnsibleScalar(text)).toEqual(want);
    expect(parseExtraVars([`k=${text}`]).values.k).toEqual(want);
  });

  it('a refused reading is an error naming the key', () => {
    expect(() => parseExtraVars(['start=12:30'])).toThrow(/-e start=…: 12:30 is a sexagesimal/);
  });
});
