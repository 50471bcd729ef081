// One host's plays planned and applied over a real shell (this machine's /bin/sh), as the engine
// does it: for tests of engine semantics and of what the engine logs.
import { HostRun } from '../../../src/engine/host.ts';
import { applyAll, type Session } from '../../../src/engine/run.ts';
import type { HostWork, PlayWork } from '../../../src/engine/work.ts';
import type { Resource } from '../../../src/resources/types.ts';
import { play, shellConnection, tempDir } from '../helpers.ts';

/** Play `index` (named "play <index + 1>") with these resources as its tasks and these handlers. */
export const playWork = (index: number, resources: Resource[], handlers: Record<string, Resource> = {}): PlayWork => ({
  play: play(index),
  items: resources.map((resource) => ({ play: index, role: 'tasks', resource })),
  handlers: new Map(Object.entries(handlers)),
});

/** Plan and apply plays on one host over a real shell: its plan, its result, the events reported, and its state dir. */
export async function runHost(plays: PlayWork[]) {
  const state = tempDir('mxp-state-');
  const w: HostWork = {
    host: { name: 'h1', groups: ['all'], vars: {}, origins: {} },
    params: { name: 'h1', connection: 'local', address: 'h1', port: 22, user: 'root', become: false, knownHostsFile: '', hostKeyChecking: 'strict', connectTimeoutMs: 1000 },
    plays,
  };
  const run = new HostRun(w, shellConnection('h1', state));
  const s: Session = { runs: new Map([['h1', run]]), plans: new Map(), results: new Map(), started: new Map([['h1', Date.now()]]) };
  const plan = await run.plan();
  s.plans.set('h1', plan);
  const events: string[] = [];
  await applyAll({ file: 'site.yml', dir: state, plays: plays.map((p) => p.play), secretValues: [] }, [w], s, 1, {
    phase() {},
    event: (_h, e) => events.push(e.kind === 'handler' ? `handler ${e.name}` : e.kind === 'step' ? e.text : `${e.kind} ${e.item.item.resource.id}`),
    hostDone() {},
  });
  return { plan, result: s.results.get('h1')!, events, state };
}
