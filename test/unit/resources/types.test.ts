import { describe, expect, it } from 'vitest';
import { common, isUnresolved, type PlanResult } from '../../../src/resources/types.ts';

describe('isUnresolved: a plan that waits for an earlier change', () => {
  it.each([
    ['no change', null, false],
    ['a change', { action: '+', summary: 's', script: 'x' }, false],
    ['unresolved', { unresolved: 'unit x not found' }, true],
  ] as [string, PlanResult, boolean][])('%s → %s', (_n, p, want) => expect(isUnresolved(p)).toBe(want));
});

describe('common: the options every resource shares', () => {
  it.each([
    ['nothing given', {}, { notify: [], tags: [] }],
    ['one handler by name', { notify: 'reload nginx' }, { notify: ['reload nginx'], tags: [] }],
    ['handlers, tags and a validate command', { notify: ['a', 'b'], tags: ['t'], validate: 'nginx -t' }, { notify: ['a', 'b'], tags: ['t'], validate: 'nginx -t' }],
  ])('%s', (_n, o, want) => expect(common(o)).toEqual(want));
});
