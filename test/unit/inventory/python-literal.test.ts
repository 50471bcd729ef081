import { describe, expect, it } from 'vitest';
import { pythonLiteral } from '../../../src/inventory/python-literal.ts';

// More of Python's literal syntax, each row checked against what python3's ast.literal_eval gives
// (a list or tuple as a list, as Ansible's JSON shows it).
describe('pythonLiteral: values', () => {
  it.each<[string, unknown]>([
    ['0X1f', 31], ['0O17', 15], ['0B11', 3], ['0x_1f', 31], ['1_0', 10], ['0', 0], ['0_0', 0],
    ['1E2', 100], ['1.', 1], ['1.e1', 10], ['.5e1', 5], ['1e-1', 0.1], ['1e+1', 10], ['1_0.5', 10.5],
    ['9007199254740991', 9007199254740991], ['-9007199254740991', -9007199254740991],
    ['+ 5', 5], ['- 1.5', -1.5], ['\t1\f', 1], ['1 # c', 1], ['\r\n1\n', 1],
    ["'\\101'", 'A'], ["'\\0'", '\0'], ["'\\1011'", 'A1'], ["'\\x41'", 'A'], ["'\\U0001F600'", '😀'], ["'\\u00e9x'", 'éx'],
    ["'\\a\\b\\f\\n\\r\\t\\v'", '\x07\b\f\n\r\t\v'], ["'\\\\'", '\\'], ["'\\''", "'"], ['"\\""', '"'], ["'a\\\nb'", 'ab'],
    ["'''a\nb'''", 'a\nb'], ['"""x"y"""', 'x"y'], ["'''it's'''", "it's"],
    ["u'x'", 'x'], ["U'x'", 'x'], ["R'\\n'", '\\n'], ["'a' r'\\n'", 'a\\n'], ['""', ''], ["''''''", ''],
    ['[]', []], ['[[1], (2,)]', [[1], [2]]], ['(1,)', [1]], ['((1))', 1], ['1, 2,', [1, 2]], ['1,', [1]],
    ["{'a': 1,}", { a: 1 }], ["{'a': {'b': [None]}}", { a: { b: [null] } }], ['{}', {}], ["{'a': 1, 'a': 2}", { a: 2 }],
    ['-(1)', -1], ['+((2.5))', 2.5], ['[-(3), 4]', [-3, 4]],
    ['None, True', [null, true]], ['[-1, +2]', [-1, 2]], ["['x' 'y', 1]", ['xy', 1]],
  ])('%j → %j', (text, value) => {
    expect(pythonLiteral(text)).toEqual({ kind: 'value', value });
  });
});

describe('pythonLiteral: not literals, kept as text', () => {
  it.each([
    '0_1', '01', '0x', '0xg', '0o8', '0b2', '1_', '1e', '1.5.', '1j2', '1 2', "'a'b", '"a\nb"', "'\\x4'", "'\\x4g'", "'\\u00e'",
    "'\\U00110000'", "'a\\", "'''a''", "b'a' 'b'", "'a' f'b'", "f'x'", "F'x'", "rf'x'", "Rf'x'", "fR'x'", "'x' fr'y'",
    'set(1)', 'set', 'true', 'none', '-(-1)', '-(1,)', '-(1', '-(1))', '-[1]', '1-2', '[1+2]', '(1, 2', '[1 2]', "{'a' 1}", "{'a': 1 'b': 2}", "{'a': 1,, 'b': 2}",
    '[,]', '(,)', ',', '1,,2', '@', '1 ; 2', '$x', 'x.y', '{', '}', "{'a': }",
  ])('%j', (text) => {
    expect(pythonLiteral(text)).toEqual({ kind: 'text' });
  });
});

describe('pythonLiteral: refused with the reason', () => {
  it.each<[string, string]>([
    ['9007199254740993', 'an integer beyond 2^53, which would be rounded'],
    ['0x20000000000001', 'an integer beyond 2^53, which would be rounded'],
    ['1.5j', 'a complex number'], ['1J', 'a complex number'], ['1-2j', 'a complex number'], ['-1+2J', 'a complex number'],
    ["B'x'", 'a bytes literal'], ["rb'x'", 'a bytes literal'], ["Br'x'", 'a bytes literal'], ["b'a' b'b'", 'a bytes literal'],
    ["b'\\u0041'", 'a bytes literal'],
    ['[...]', 'an ellipsis (...)'], ["{'a'}", 'a set'], ["{'a', 'b'}", 'a set'], ["{'a': 1, 2: 3}", 'a dict with a key that is not a string'],
    ['{None: 1}', 'a dict with a key that is not a string'], ["'\\N{DASH}'", 'a \\N{…} escape (write the character itself)'],
    ['-1e999', 'an infinite float'],
  ])('%j: %s', (text, why) => {
    expect(pythonLiteral(text)).toEqual({ kind: 'unsupported', why });
  });

  it('in a raw string, \\N is just text', () => {
    expect(pythonLiteral("r'\\N{DASH}'")).toEqual({ kind: 'value', value: '\\N{DASH}' });
  });

  it('in bytes, \\u and \\N are no escapes (still refused: bytes)', () => {
    expect(pythonLiteral("b'\\N{x}'")).toEqual({ kind: 'unsupported', why: 'a bytes literal' });
  });
});
