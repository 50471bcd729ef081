import { describe, expect, it } from 'vitest';
import { formatUserError, suggest, UserError, UserErrors } from '../../src/errors.ts';

describe('suggest', () => {
  const types = ['file', 'directory', 'link', 'apt', 'service', 'command', 'user', 'group'];
  it.each([
    ['fiel', 'file'],
    ['servce', 'service'],
    ['directroy', 'directory'],
    ['Apt', 'apt'],
    ['groups', 'group'],
    ['package', undefined], // too far from anything
    ['zzzz', undefined],
  ])('%s → %s', (word, want) => expect(suggest(word, types)).toBe(want));

  // The threshold, at its edges: at most max(2, a third of the word's length) edits.
  it.each([
    ['abcdxy', ['abcdef'], 'abcdef'], // 6 letters, 2 edits: the floor of 2
    ['abcxyz', ['abcdef'], undefined], // 3 edits
    ['synXXXX_port', ['synapse_port'], 'synapse_port'], // 12 letters, 4 edits: a third
    ['sXXXXXX_port', ['synapse_port'], undefined], // 5 edits
  ])('%s among %j → %s', (word, candidates, want) => expect(suggest(word, candidates)).toBe(want));

  it('the closest wins; longer words tolerate more edits', () => {
    expect(suggest('synapse_sever_nme', ['synapse_server_name', 'synapse_port'])).toBe('synapse_server_name');
    expect(suggest('x', [])).toBeUndefined();
  });
});

describe('UserError formatting', () => {
  it('names file:line, host, role and key before the message', () => {
    expect(new UserError('bad', { file: 'a.yml', line: 3, host: 'h', role: 'r', key: 'k' }).toString()).toBe('a.yml:3, host h, role r, key k: bad');
    expect(formatUserError('bad', { file: 'a.yml' })).toBe('a.yml: bad');
    expect(formatUserError('bad', {})).toBe('bad');
  });
  it('UserErrors lists every error, one a line', () => {
    expect(new UserErrors([new UserError('a', { host: 'h1' }), new UserError('b')]).message).toBe('host h1: a\nb');
  });
});
