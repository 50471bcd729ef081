// --forks from measurement: mxplay's no-op on hosts converged at one point, timed with each
// --forks value, repetitions interleaved (the order alternates), so that the CLI's default can be
// chosen from data.
import { loadavg } from 'node:os';
import { log } from './proc.ts';
import { median, type ForksResult } from './results.ts';
import { runTool, type Ctx } from './tools.ts';
import { scaleOf } from './workload.ts';

export async function measureForks(c: Ctx, forks: number[], reps: number): Promise<ForksResult> {
  const res: ForksResult = { hosts: c.hosts.length, resources: scaleOf(c.tenants).resources, runs: forks.map((f) => ({ forks: f, ms: [], load1: [] })) };
  // the hosts are converged (the point's runs just ended); one untimed no-op checks it
  await runTool('mxplay', 'noop', c);
  for (let i = 0; i < reps; i++) {
    const order = i % 2 ? [...res.runs].reverse() : res.runs;
    for (const run of order) {
      const load1 = loadavg()[0]!;
      const r = await runTool('mxplay', 'noop', c, run.forks);
      run.ms.push(r.ms);
      run.load1.push(load1);
      log(`${c.hosts.length} host(s) no-op --forks ${String(run.forks).padEnd(3)} ${(r.ms / 1000).toFixed(3)} s  (load ${load1.toFixed(2)})`);
    }
  }
  return res;
}

/** The --forks value with the lowest median, and how close the runner-up is. */
export function fastestForks(r: ForksResult): { forks: number; medianS: number; next?: { forks: number; medianS: number } } {
  const ranked = r.runs.filter((x) => x.ms.length).map((x) => ({ forks: x.forks, medianS: median(x.ms) / 1000 })).sort((a, b) => a.medianS - b.medianS);
  return { ...ranked[0]!, ...(ranked[1] ? { next: ranked[1] } : {}) };
}
