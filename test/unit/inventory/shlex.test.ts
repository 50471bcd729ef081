import { describe, expect, it } from 'vitest';
import { shlexSplit } from '../../../src/inventory/ini.ts';

// What python3's shlex.split(line, comments=True) gives for each line (recorded from Python 3.11;
// null: Python raises ValueError), as Ansible's ini plugin splits a host line.
const PYTHON: [string, string[] | null][] = [
    ["a b", ["a", "b"]],
    ["a\tb", ["a", "b"]],
    ["a\r\nb", ["a", "b"]],
    ["a 'b c' d", ["a", "b c", "d"]],
    ["a \"b c\" d", ["a", "b c", "d"]],
    ["a \"b\\\"c\"", ["a", "b\"c"]],
    ["a 'b\\'", ["a", "b\\"]],
    ["a \"b\\\\c\"", ["a", "b\\c"]],
    ["a \"b\\nc\"", ["a", "b\\nc"]],
    ["a\\ b", ["a b"]],
    ["a\\\\b", ["a\\b"]],
    ["''", [""]],
    ["\"\"", [""]],
    ["a \"\" b", ["a", "", "b"]],
    ["x='1 2' y=3", ["x=1 2", "y=3"]],
    ["a #c d", ["a"]],
    ["a#b", ["a"]],
    ["'a#b'", ["a#b"]],
    ["k=\"v\" # note", ["k=v"]],
    ["  lead  trail  ", ["lead", "trail"]],
    ["a\\", null],
    ["a\\#b", ["a#b"]],
    ["it''s", ["its"]],
    ["x=\"a'b\"", ["x=a'b"]],
    ["x='a\"b'", ["x=a\"b"]],
    ["a\"b c\"d", ["ab cd"]],
];

describe('shlexSplit: as Python splits an INI host line', () => {
  it.each(PYTHON)('%j', (line, want) => {
    if (want === null) expect(() => shlexSplit(line)).toThrow();
    else expect(shlexSplit(line)).toEqual(want);
  });
});
