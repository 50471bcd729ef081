import { describe, expect, it } from 'vitest';
import { planFile } from '../../../src/resources/file.ts';
import { octal } from '../../../src/resources/sh.ts';
import type { Change } from '../../../src/resources/types.ts';

// Modes reach the host as text: the setuid, setgid and sticky bits must survive the formatting.
describe('octal: a mode as chmod reads it', () => {
  it.each([
    [0o644, '0644'],
    [0o600, '0600'],
    [0o4755, '4755'],
    [0o2775, '2775'],
    [0o1777, '1777'],
    [0o7777, '7777'],
  ])('%o → %s', (mode, text) => expect(octal(mode)).toBe(text));

  it.each([
    [0o4755, '4755'],
    [0o2750, '2750'],
    [0o1777, '1777'],
  ])('a new file of mode %o is written as %s', (mode, text) => {
    const c = planFile({ path: '/srv/x', content: 'x\n', mode }, { kind: 'none' }) as Change;
    expect(c.script).toMatch(new RegExp(`^mxp_put /srv/x ${text} `, 'm'));
  });
});
