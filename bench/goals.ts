// The goals of issue #16, each with the figure this run measured and whether it is met. A goal
// whose point was not part of the run says so; nothing is carried over from another run.
import { findPoint, fmtRatio, peakRssMb, ratioOf, stat, type Results } from './results.ts';
import { RESOURCE_COUNT, scaleFor } from './workload.ts';

export interface Goal {
  goal: string;
  measured: string;
  /** undefined: not measured in this run */
  met?: boolean;
}

export const DEAD_CONNECTION_GOAL_S = 15;

export function goals(r: Results): Goal[] {
  const at = (hosts: number, resources: number) => findPoint(r, hosts, scaleFor(resources).resources);
  const none = (goal: string, why = 'not measured in this run'): Goal => ({ goal, measured: why });
  const out: Goal[] = [];

  const ratioGoal = (goal: string, hosts: number, resources: number, kind: 'noop' | 'first', max: number, floorWord = 'floor'): Goal => {
    const p = at(hosts, resources);
    const x = p && ratioOf(p, 'mxplay', 'floor', kind);
    if (!p || x === undefined) return none(goal);
    const m = stat(p, 'mxplay', kind)!;
    const f = stat(p, 'floor', kind)!;
    return { goal, measured: `${fmtRatio(x)} (mxplay ${m.median.toFixed(3)} s, ${floorWord} ${f.median.toFixed(3)} s)`, met: x <= max };
  };

  out.push(ratioGoal(`no-op, 1 host, ${RESOURCE_COUNT} resources: ≤ 1.3× the floor`, 1, RESOURCE_COUNT, 'noop', 1.3));

  {
    const goal = `no-op, 50 hosts (${RESOURCE_COUNT} resources): ≤ 1.5× the floor and under 2 s`;
    const p = at(50, RESOURCE_COUNT);
    const x = p && ratioOf(p, 'mxplay', 'floor', 'noop');
    if (!p || x === undefined) out.push(none(goal));
    else {
      const m = stat(p, 'mxplay', 'noop')!;
      const f = stat(p, 'floor', 'noop')!;
      // "Under 2 s" is a time on this machine: when the floor itself is not under it, say so.
      const floorToo = f.median >= 2 ? ': the floor itself is not under 2 s here' : '';
      out.push({ goal, measured: `${fmtRatio(x)}, ${m.median.toFixed(3)} s (floor ${f.median.toFixed(3)} s${floorToo})`, met: x <= 1.5 && m.median < 2 });
    }
  }
  out.push(ratioGoal(`no-op, 1 host, ${scaleFor(3000).resources} resources: ≤ 2× the floor`, 1, 3000, 'noop', 2));
  out.push(ratioGoal(`first run, 1 host, ${scaleFor(3000).resources} resources: ≤ 2× the floor's (one exec writing everything)`, 1, 3000, 'first', 2));

  {
    const goal = `Ansible ÷ mxplay, no-op, 20 hosts (${RESOURCE_COUNT} resources): ≥ 300×`;
    const p = at(20, RESOURCE_COUNT);
    const x = p && ratioOf(p, 'ansible', 'mxplay', 'noop');
    if (!p || x === undefined) out.push(none(goal));
    else {
      // What the floor would score in mxplay's place: the most any tool over SSH could reach that day.
      const floor = ratioOf(p, 'ansible', 'floor', 'noop');
      const floorSays = floor === undefined ? '' : `; Ansible ÷ floor ${fmtRatio(floor)}`;
      out.push({ goal, measured: `${fmtRatio(x)} (Ansible ${stat(p, 'ansible', 'noop')!.median.toFixed(1)} s, mxplay ${stat(p, 'mxplay', 'noop')!.median.toFixed(3)} s${floorSays})`, met: x >= 300 });
    }
  }
  {
    const goal = `peak RSS, 50 hosts × ${scaleFor(600).resources} resources: ≤ 200 MB`;
    const p = at(50, 600);
    const mb = p && peakRssMb(p);
    if (!p || mb === undefined) out.push(none(goal));
    else {
      const by = Object.entries(p.rssKb).map(([k, kb]) => `${k} ${Math.round(kb / 1024)}`).join(', ');
      out.push({ goal, measured: `${Math.round(mb)} MB (largest of ${by} MB)`, met: mb <= 200 });
    }
  }
  {
    const goal = `a dead connection reported within ${DEAD_CONNECTION_GOAL_S} s`;
    const d = r.deadConnection;
    if (!d) out.push(none(goal, 'not measured in this run (the bench cuts a host\'s link unless `--no-dead-connection`); failures.e2e kills a connection too'));
    else if (d.reportedS === null) out.push({ goal, measured: `not reported within ${d.timeoutS} s (exit ${d.exitCode}: ${d.message})`, met: false });
    else out.push({ goal, measured: `${d.reportedS.toFixed(1)} s (${d.message})`, met: d.reportedS <= DEAD_CONNECTION_GOAL_S });
  }
  return out;
}

export function goalsTable(r: Results): string {
  return [
    '| goal | measured | |',
    '| --- | --- | :---: |',
    ...goals(r).map((g) => `| ${g.goal} | ${g.measured.replaceAll('|', '\\|')} | ${g.met === undefined ? '–' : g.met ? 'met' : '**missed**'} |`),
  ].join('\n');
}
