import { describe, expect, it } from 'vitest';
import { base64Heredoc, pipedFrom, q } from '../../../src/resources/sh.ts';
import { sh } from '../helpers.ts';

// Every value reaches the host through these: what the shell receives must be exactly the value.
describe('q: one shell word for any value', () => {
  it.each([
    ['plain', 'abc_1.2:3=@%+,-/'],
    ['spaces and quotes', `it's "quoted" $HOME \`id\``],
    ['line breaks', 'a\nb\r\n'],
    ['empty', ''],
    ['a glob', '*'],
  ])('%s: the shell reads it back as it was', (_n, v) => {
    expect(sh(`printf '%s' ${q(v)}`).stdout).toBe(v);
  });

  it('a NUL byte is refused (a shell word would be cut there)', () => {
    expect(() => q('a\0b')).toThrow(/NUL byte/);
  });
});

describe('data in a here-document', () => {
  const data = `line 1\n'quoted' $x \`y\`\nMXP_EOF\n${'long '.repeat(200)}\n`;

  it('pipedFrom: the command reads the data exactly', () => {
    expect(sh(pipedFrom(data, 'cat')).stdout).toBe(data);
  });

  it('base64Heredoc: the data decoded on the host', () => {
    expect(sh(`base64 -d ${base64Heredoc(data)}`).stdout).toBe(data);
  });

  it('travels as base64 lines of 76 characters: a script grows by about 4/3 of its data, not more', () => {
    const big = 'x'.repeat(30_000);
    const script = pipedFrom(big, 'cat');
    expect(script.length).toBeLessThan(big.length * 1.4);
    expect(Math.max(...script.split('\n').map((l) => l.length))).toBe(76);
  });

  it('pipedFrom refuses a command of several lines (the data would become its input lines)', () => {
    expect(() => pipedFrom('x', 'cat\nrm -rf /tmp/x')).toThrow(/one line/);
  });
});
