// bench/goals.ts: which goal of #16 a run meets, from its samples alone.
import { describe, expect, it } from 'vitest';
import { goals } from '../../../bench/goals.ts';
import type { Kind, Point, Results, Tool } from '../../../bench/results.ts';
import { RESOURCE_COUNT, scaleFor } from '../../../bench/workload.ts';

/** A point whose every tool and kind has the given seconds as its one sample. */
function point(hosts: number, wanted: number, seconds: Partial<Record<`${Tool} ${Kind}`, number>>, rssMb: Partial<Record<Kind, number>> = {}): Point {
  const { resources, tenants } = scaleFor(wanted);
  const none = { first: 0, noop: 0, check: 0 };
  return {
    hosts,
    resources,
    tenants,
    reps: { mxplay: none, ansible: none, floor: none },
    samples: Object.entries(seconds).map(([key, s]) => {
      const [tool, kind] = key.split(' ') as [Tool, Kind];
      return { tool, kind, hosts, ms: s! * 1000, load1: 1 };
    }),
    rssKb: Object.fromEntries(Object.entries(rssMb).map(([k, mb]) => [k, mb! * 1024])),
    loadBefore: '1',
    loadAfter: '1',
  };
}

function results(points: Point[], deadConnection?: Results['deadConnection']): Results {
  return { version: 2, started: '', command: '', quick: false, info: {}, notes: [], incidents: [], points, forks: [], ...(deadConnection ? { deadConnection } : {}) };
}

/** The goal whose text starts with `start`. */
const goal = (r: Results, start: string) => {
  const g = goals(r).find((x) => x.goal.startsWith(start));
  if (!g) throw new Error(`no goal starting with ${start}`);
  return g;
};

describe('goals', () => {
  it('a run without the points says so for every goal, and meets none', () => {
    const all = goals(results([]));
    expect(all).toHaveLength(7);
    for (const g of all) {
      expect(g.met).toBeUndefined();
      expect(g.measured).toMatch(/^not measured in this run/);
    }
  });

  const cases: { name: string; r: Results; goal: string; met: boolean; says: RegExp }[] = [
    {
      name: '1-host no-op at 1.2× the floor is met',
      r: results([point(1, RESOURCE_COUNT, { 'mxplay noop': 0.6, 'floor noop': 0.5 })]),
      goal: 'no-op, 1 host',
      met: true,
      says: /^1\.20× \(mxplay 0\.600 s, floor 0\.500 s\)$/,
    },
    {
      name: '1-host no-op at 1.4× the floor is missed',
      r: results([point(1, RESOURCE_COUNT, { 'mxplay noop': 0.7, 'floor noop': 0.5 })]),
      goal: 'no-op, 1 host',
      met: false,
      says: /^1\.40×/,
    },
    {
      name: '50 hosts under 2 s and within 1.5× is met',
      r: results([point(50, RESOURCE_COUNT, { 'mxplay noop': 1.8, 'floor noop': 1.5 })]),
      goal: 'no-op, 50 hosts',
      met: true,
      says: /^1\.20×, 1\.800 s \(floor 1\.500 s\)$/,
    },
    {
      name: '50 hosts within 1.5× but over 2 s is missed, and a floor over 2 s is named',
      r: results([point(50, RESOURCE_COUNT, { 'mxplay noop': 9.7, 'floor noop': 7.5 })]),
      goal: 'no-op, 50 hosts',
      met: false,
      says: /\(floor 7\.500 s: the floor itself is not under 2 s here\)$/,
    },
    {
      name: '50 hosts under 2 s but over 1.5× is missed',
      r: results([point(50, RESOURCE_COUNT, { 'mxplay noop': 1.9, 'floor noop': 1.0 })]),
      goal: 'no-op, 50 hosts',
      met: false,
      says: /^1\.90×, 1\.900 s \(floor 1\.000 s\)$/,
    },
    {
      name: 'first run at 3000 resources at exactly 2× is met',
      r: results([point(1, 3000, { 'mxplay first': 7, 'floor first': 3.5 })]),
      goal: 'first run, 1 host',
      met: true,
      says: /^2\.00×/,
    },
    {
      name: 'Ansible at 300× mxplay is met, and what the floor would score is shown',
      r: results([point(20, RESOURCE_COUNT, { 'ansible noop': 900, 'mxplay noop': 3, 'floor noop': 2.5 })]),
      goal: 'Ansible ÷ mxplay',
      met: true,
      says: /^300× \(Ansible 900\.0 s, mxplay 3\.000 s; Ansible ÷ floor 360×\)$/,
    },
    {
      name: 'Ansible at 229× is missed; without a floor sample nothing is said of it',
      r: results([point(20, RESOURCE_COUNT, { 'ansible noop': 869.7, 'mxplay noop': 3.797 })]),
      goal: 'Ansible ÷ mxplay',
      met: false,
      says: /^229× \(Ansible 869\.7 s, mxplay 3\.797 s\)$/,
    },
    {
      name: 'peak RSS is the largest of the kinds: 201 MB misses 200',
      r: results([point(50, 600, {}, { first: 201, noop: 150 })]),
      goal: 'peak RSS',
      met: false,
      says: /^201 MB \(largest of first 201, noop 150 MB\)$/,
    },
    {
      name: 'a dead connection never reported is missed',
      r: results([], { host: 'bench1', reportedS: null, message: 'still waiting', exitCode: 0, timeoutS: 60 }),
      goal: 'a dead connection',
      met: false,
      says: /^not reported within 60 s/,
    },
    {
      name: 'a dead connection reported in 15 s is met',
      r: results([], { host: 'bench1', reportedS: 15, message: 'unreachable', exitCode: 2, timeoutS: 60 }),
      goal: 'a dead connection',
      met: true,
      says: /^15\.0 s \(unreachable\)$/,
    },
  ];
  it.each(cases)('$name', ({ r, goal: start, met, says }) => {
    const g = goal(r, start);
    expect(g.met).toBe(met);
    expect(g.measured).toMatch(says);
  });
});
