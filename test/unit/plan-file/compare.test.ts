import { describe, expect, it } from 'vitest';
import { compareHosts } from '../../../src/plan-file/compare.ts';
import type { PlanHost, PlanResource } from '../../../src/plan-file/format.ts';
import { compareInputs } from '../../../src/plan-file/inputs.ts';

const d = (c: string) => c.repeat(64);
const res = (id: string, o: Partial<PlanResource> = {}): PlanResource => ({ play: 0, role: 'web', type: 'file', id, state: d('a'), planned: 'ok', ...o });
const host = (name: string, resources: PlanResource[], o: Partial<PlanHost> = {}): PlanHost => ({
  host: name, status: 'planned', pendingHandlers: [], changes: [], resources, ...o,
});

const conf = res('/etc/app.conf', { planned: '~', change: d('c') });
const motd = res('/etc/motd');
const saved = [host('h1', [conf, motd]), host('h2', [motd])];

describe('compareHosts: is a saved plan still the plan of the hosts now?', () => {
  const rows: { name: string; now: PlanHost[]; want: string[] }[] = [
    { name: 'same resources, states and changes: nothing', now: saved, want: [] },
    {
      name: 'a resource with no change whose state changed',
      now: [host('h1', [conf, motd]), host('h2', [res('/etc/motd', { state: d('b') })])],
      want: ['h2: file /etc/motd changed on the host since the plan was made'],
    },
    {
      name: 'a changed resource whose state changed is named once, by its state',
      now: [host('h1', [res('/etc/app.conf', { state: d('b'), planned: '~', change: d('e') }), motd]), host('h2', [motd])],
      want: ['h1: file /etc/app.conf changed on the host since the plan was made'],
    },
    {
      name: 'same state, another change (the desired content differs)',
      now: [host('h1', [res('/etc/app.conf', { planned: '~', change: d('e') }), motd]), host('h2', [motd])],
      want: ['h1: file /etc/app.conf: the change computed now differs from the planned one (content or commands)'],
    },
    {
      name: 'same state, now no change at all',
      now: [host('h1', [res('/etc/app.conf'), motd]), host('h2', [motd])],
      want: ['h1: file /etc/app.conf: planned as ~, computed now as ok'],
    },
    {
      name: 'a resource gone from the playbook and one added',
      now: [host('h1', [conf, res('/etc/issue')]), host('h2', [motd])],
      want: ['h1: file /etc/motd (role web) is in the plan but no longer in the playbook', 'h1: file /etc/issue (role web) is not in the plan'],
    },
    {
      name: 'the same resources in another order',
      now: [host('h1', [motd, conf]), host('h2', [motd])],
      want: ['h1: the resources are in another order than in the plan'],
    },
    {
      name: 'a host unreachable now cannot be checked',
      now: [host('h1', [conf, motd]), host('h2', [], { status: 'unreachable', message: 'connect timed out\nmore' })],
      want: ['h2: unreachable (connect timed out): cannot check it against the plan'],
    },
    {
      name: 'a host missing now, and one not in the plan',
      now: [host('h1', [conf, motd]), host('h3', [motd])],
      want: ['h2: in the plan, but not a host of this run', 'h3: a host of this run, but not in the plan'],
    },
    {
      name: 'handlers left pending by a run since',
      now: [host('h1', [conf, motd], { pendingHandlers: ['reload nginx'] }), host('h2', [motd])],
      want: ['h1: handlers pending on the host changed since the plan was made (plan: none; now: reload nginx)'],
    },
  ];
  for (const r of rows) it(r.name, () => expect(compareHosts(saved, r.now)).toEqual(r.want));
});

describe('compareInputs: did a file the plan was made from change?', () => {
  const files = [
    { path: 'site.yml', sha256: d('1') },
    { path: 'inventory/prod/hosts.yml', sha256: d('2') },
    { path: 'inventory/prod/group_vars/all.yml', sha256: d('3') },
  ];
  const rows: { name: string; now: typeof files; want: string[] }[] = [
    { name: 'the same files, same digests', now: files, want: [] },
    { name: 'the same files listed in another order', now: [...files].reverse(), want: [] },
    {
      name: 'a group_vars file edited',
      now: files.map((f) => (f.path.endsWith('all.yml') ? { ...f, sha256: d('9') } : f)),
      want: ['inventory/prod/group_vars/all.yml changed since the plan was made'],
    },
    {
      name: 'a host_vars file added, a group_vars file removed',
      now: [...files.slice(0, 2), { path: 'inventory/prod/host_vars/hs1.yml', sha256: d('4') }],
      want: ['inventory/prod/group_vars/all.yml was removed since the plan was made', 'inventory/prod/host_vars/hs1.yml is new since the plan was made'],
    },
  ];
  for (const r of rows) it(r.name, () => expect(compareInputs(files, r.now)).toEqual(r.want));
});
