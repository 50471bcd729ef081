/**
 * YAML as Ansible reads it. Ansible parses playbooks, inventories and vars files with PyYAML, a
 * YAML 1.1 parser: `yes`/`no`/`on`/`off` are booleans, `0600` is the octal 384, `1:20` is 80. Read
 * as YAML 1.2 (the yaml library's default) those would be other values, silently: `mode: 0600`
 * would be 600 and `ansible_become: yes` the string "yes". So every file mxplay reads is YAML 1.1
 * with PyYAML's own resolver (which is not quite the yaml library's 1.1 schema: PyYAML reads `y`
 * and `n` as strings, `1e3` as a string, `0o17` as a string), and where Ansible's value is surely not
 * what the author meant, or cannot be carried, the scalar is refused with the reason:
 *
 * | plain scalar | read as |
 * | --- | --- |
 * | `yes No ON off true False TRUE` (PyYAML's 18 spellings) | boolean, as Ansible |
 * | `y n Y N tRUE` | string, as Ansible |
 * | `0600` `0x1F` `0b101` `1_000` `+12` | integer 384, 31, 5, 1000, 12, as Ansible |
 * | `0o17` `09` `1e3` `1.0e3` `-.5` | string, as Ansible (PyYAML's patterns do not match them) |
 * | `1.5` `1.0e+3` `.5` | float, as Ansible |
 * | `~ null Null NULL` and nothing | null |
 * | `2024-01-02` | the string `2024-01-02` (Ansible's date prints as that same text) |
 * | `1:20`, `1:20.5` (sexagesimal) | error: Ansible reads 80 where YAML 1.2 and every reader reads "1:20" |
 * | `2001-12-14 21:59:43` (a timestamp) | error: Ansible reads a datetime object whose text differs |
 * | `.inf` `.nan` | error: no variable of mxplay takes them, and JSON cannot carry them |
 * | an integer beyond 2^53 | error: JavaScript would round it |
 * | `=` | error, as in Ansible (YAML 1.1's value key) |
 * | `!!binary` `!!set` `!!omap` `!!pairs` `!!timestamp` | error: unknown tag |
 */
import { parseDocument, type ScalarTag, type Tags } from 'yaml';

const INT = 'tag:yaml.org,2002:int';
const FLOAT = 'tag:yaml.org,2002:float';
const BOOL = 'tag:yaml.org,2002:bool';
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

/** The integer of a PyYAML int scalar (construct_yaml_int): sign, underscores, 0b, 0x, 0 (octal), else decimal. */
function pyInt(text: string, onError: (m: string) => void): number {
  let s = text.replace(/_/g, '');
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  let n: number;
  if (s === '0') n = 0;
  else if (s.startsWith('0b')) n = parseInt(s.slice(2), 2);
  else if (s.startsWith('0x')) n = parseInt(s.slice(2), 16);
  else if (s.startsWith('0')) n = parseInt(s.slice(1), 8);
  else n = parseInt(s, 10);
  if (!Number.isSafeInteger(n)) onError(`${text} is an integer too large to keep exactly (more than 2^53): quote it to keep it as text`);
  return sign * n;
}

const sexagesimal = (text: string, value: string) =>
  `${text} is a sexagesimal (base 60) number in YAML 1.1, which Ansible reads as ${value}, while YAML 1.2 reads the text '${text}': quote it ('${text}') for the text, or write the number`;

/** PyYAML's implicit resolvers (yaml/resolver.py), in its order. */
const ansibleTags: ScalarTag[] = [
  {
    tag: BOOL,
    default: true,
    identify: (v) => v === true,
    test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
    resolve: () => true,
  },
  {
    tag: BOOL,
    default: true,
    identify: (v) => v === false,
    test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
    resolve: () => false,
  },
  {
    tag: INT,
    default: true,
    identify: (v) => typeof v === 'number' && Number.isInteger(v),
    test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$/,
    resolve: (s, onError) => pyInt(s, onError),
  },
  {
    tag: INT,
    default: true,
    format: 'SEXAGESIMAL',
    identify: () => false,
    test: /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/,
    resolve(s, onError) {
      const sign = s.startsWith('-') ? -1 : 1;
      const v = s.replace(/^[-+]/, '').replace(/_/g, '').split(':').reduce((acc, d) => acc * 60 + Number(d), 0);
      onError(sexagesimal(s, String(sign * v)));
      return s;
    },
  },
  {
    tag: FLOAT,
    default: true,
    format: 'SEXAGESIMAL',
    identify: () => false,
    test: /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/,
    resolve(s, onError) {
      const sign = s.startsWith('-') ? -1 : 1;
      const [whole, frac] = s.replace(/^[-+]/, '').replace(/_/g, '').split('.');
      const v = whole!.split(':').reduce((acc, d) => acc * 60 + Number(d), 0) + Number(`0.${frac || '0'}`);
      onError(sexagesimal(s, String(sign * v)));
      return s;
    },
  },
  {
    tag: FLOAT,
    default: true,
    format: 'INFNAN',
    identify: () => false,
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    resolve(s, onError) {
      onError(`${s} is ${/nan/i.test(s) ? 'not-a-number' : 'infinity'} in YAML, which no variable of mxplay takes: quote it ('${s}') for the text`);
      return s;
    },
  },
  {
    tag: FLOAT,
    default: true,
    identify: (v) => typeof v === 'number' && !Number.isInteger(v),
    test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)$/,
    resolve: (s) => parseFloat(s.replace(/_/g, '')),
  },
  {
    tag: 'tag:yaml.org,2002:value',
    default: true,
    identify: () => false,
    test: /^=$/,
    resolve(s, onError) {
      onError(`a plain = is YAML 1.1's "value" key, which Ansible cannot read: quote it ('=')`);
      return s;
    },
  },
  {
    tag: TIMESTAMP,
    default: true,
    format: 'DATE',
    identify: () => false,
    test: /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/,
    // Ansible reads a date object, which prints and templates as this same text.
    resolve: (s) => s,
  },
  {
    tag: TIMESTAMP,
    default: true,
    identify: () => false,
    test: /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$/,
    resolve(s, onError) {
      onError(`${s} is a timestamp in YAML 1.1, which Ansible reads as a date and time object (printed differently), while YAML 1.2 reads the text: quote it ('${s}')`);
      return s;
    },
  },
];

/** The scalar tags of the yaml library's 1.1 schema that PyYAML's resolver replaces, or that Ansible does not have. */
const REPLACED = new Set([BOOL, INT, FLOAT, TIMESTAMP, 'tag:yaml.org,2002:binary', 'tag:yaml.org,2002:omap', 'tag:yaml.org,2002:pairs', 'tag:yaml.org,2002:set']);

/**
 * Parse options for YAML as Ansible reads it: YAML 1.1 with PyYAML's scalars (merge keys `<<`
 * included). `extra` are further tags (e.g. one a caller resolves itself).
 */
export function ansibleYamlOptions(extra: ScalarTag[] = []) {
  return {
    version: '1.1' as const,
    customTags: (tags: Tags): Tags => [
      ...tags.filter((t) => typeof t === 'string' || !REPLACED.has(t.tag)),
      ...ansibleTags,
      ...extra,
    ],
  };
}

/**
 * One scalar (`-e key=VALUE`) read as the files are, so a value means the same on the command line
 * as in a vars file: `yes` is true, `0600` is 384. A refused reading throws its reason.
 */
export function parseAnsibleScalar(text: string): unknown {
  const doc = parseDocument(text || '""', { ...ansibleYamlOptions(), prettyErrors: false });
  const err = doc.errors[0];
  if (err) throw new Error(err.message.split('\n')[0]);
  return doc.toJS();
}
