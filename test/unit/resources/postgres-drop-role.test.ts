// A login role with state absent: dropped when it exists, nothing when it does not.
import { describe, expect, it } from 'vitest';
import { planPostgresRole } from '../../../src/resources/postgres.ts';
import { decoded } from '../helpers.ts';

describe('planPostgresRole, state absent', () => {
  it.each([
    ['an existing role is dropped', { exists: true, verifier: 'md5x' }, '-'],
    ['a missing role needs nothing', { exists: false }, null],
  ])('%s', (_, state, action) => {
    const p = planPostgresRole({ name: 'old"app', state: 'absent', password: 'ignored' }, state);
    if (action === null) return expect(p).toBeNull();
    expect(p).toMatchObject({ action, summary: 'drop role' });
    expect(decoded((p as { script: string }).script)).toContain('DROP ROLE "old""app";');
  });
});
