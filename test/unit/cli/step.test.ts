import { describe, expect, it } from 'vitest';
import { declinedHosts } from '../../../src/cli/run.ts';
import type { PlanHostView } from '../../../src/plan-file/format.ts';

const change = { action: '~' as const, type: 'file', id: '/etc/motd', role: 'tasks', summary: 'content' };
const host = (name: string, changes: number, extra: Partial<PlanHostView> = {}): PlanHostView => ({
  host: name,
  status: 'planned',
  pendingHandlers: [],
  changes: Array.from({ length: changes }, () => change),
  ...extra,
});

describe('--step asks host by host', () => {
  it.each([
    ['every host with changes is asked, in order; no is left out', [host('a', 2), host('b', 1), host('c', 3)], ['y', 'n', 'y'], ['Apply 2 changes on a?', 'Apply 1 change on b?', 'Apply 3 changes on c?'], ['b']],
    ['a host without changes is not asked', [host('a', 0), host('b', 1)], ['n'], ['Apply 1 change on b?'], ['b']],
    ['a pending handler counts as a change', [host('a', 0, { pendingHandlers: ['restart x'] })], ['y'], ['Apply 1 change on a?'], []],
    ['a host that could not be planned is not asked', [host('a', 0, { status: 'unreachable', message: 'down' }), host('b', 1)], ['y'], ['Apply 1 change on b?'], []],
  ])('%s', async (_, hosts, answers, questions, declined) => {
    const asked: string[] = [];
    const got = await declinedHosts(hosts, async (q) => {
      asked.push(q);
      return answers[asked.length - 1] === 'y';
    });
    expect(asked).toEqual(questions);
    expect([...got]).toEqual(declined);
  });
});
