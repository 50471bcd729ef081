import { describe, expect, it } from 'vitest';
import { flushHandlers } from '../../../src/resources/flush.ts';
import { sh } from '../helpers.ts';

describe('flushHandlers: the engine marker of `meta: flush_handlers`', () => {
  // Built inside each test: a resource made while the file loads is not counted as tested by it.
  it('is the marker the engine runs handlers at, named as plans show it', () => {
    const r = flushHandlers();
    expect(r).toMatchObject({ type: 'flush', id: 'handlers', marker: 'flush_handlers', notify: [], tags: [] });
  });

  it('converges nothing: its probe prints an empty JSON state and it never plans a change', () => {
    const r = flushHandlers();
    const out = sh(r.probe as string);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({});
    expect(r.plan({})).toBeNull();
  });
});
