// One point of the matrix: every kind of run (first, no-op, --check) for each tool that runs
// there, repetitions interleaved so that background load falls on all tools alike; then mxplay's
// peak RSS per kind in runs of its own.
import { loadavg } from 'node:os';
import { reset, settle } from './hosts.ts';
import { log, uptime } from './proc.ts';
import { KINDS, TOOLS, type Point, type Reps } from './results.ts';
import { mxplayRss, runTool, type Ctx } from './tools.ts';
import { scaleOf } from './workload.ts';

export async function measurePoint(c: Ctx, reps: Reps): Promise<Point> {
  const n = c.hosts.length;
  const resources = scaleOf(c.tenants).resources;
  const point: Point = { hosts: n, resources, tenants: c.tenants, reps, samples: [], rssKb: {}, loadBefore: uptime(), loadAfter: '' };
  const where = `${n} host(s) × ${resources}`;
  let converged = false;
  for (const kind of KINDS) {
    const tools = TOOLS.filter((t) => reps[t][kind] > 0);
    if (kind !== 'first' && !converged && tools.length) {
      // no first run was timed here: converge once, untimed
      await reset(c.lab, c.hosts);
      await runTool('mxplay', 'first', c);
      await settle(c.lab, c.hosts);
      converged = true;
    }
    const rounds = Math.max(0, ...tools.map((t) => reps[t][kind]));
    for (let i = 0; i < rounds; i++) {
      // alternate the order, so that no tool always runs right after another's changes
      const order = i % 2 ? [...tools].reverse() : tools;
      for (const tool of order) {
        if (i >= reps[tool][kind]) continue;
        if (kind === 'first') await reset(c.lab, c.hosts);
        const load1 = loadavg()[0]!;
        const r = await runTool(tool, kind, c);
        if (kind === 'first') {
          await settle(c.lab, c.hosts);
          converged = true;
        }
        point.samples.push({ tool, kind, hosts: n, ms: r.ms, load1, ...(r.roundTrips ? { roundTrips: r.roundTrips, hostSeconds: r.hostSeconds } : {}) });
        log(`${where} ${kind.padEnd(5)} ${tool.padEnd(7)} ${(r.ms / 1000).toFixed(3)} s${r.roundTrips ? `  round trips ${[...new Set(r.roundTrips)].join(',')}` : ''}  (load ${load1.toFixed(2)})`);
      }
    }
    if (reps.mxplay[kind] > 0) {
      // peak RSS, in a run of its own (GNU time around it), not among the timed ones
      if (kind === 'first') await reset(c.lab, c.hosts);
      point.rssKb[kind] = await mxplayRss(c, kind);
      if (kind === 'first') {
        await settle(c.lab, c.hosts);
        converged = true;
      }
      log(`${where} ${kind.padEnd(5)} mxplay  peak RSS ${Math.round(point.rssKb[kind]! / 1024)} MB`);
    }
  }
  point.loadAfter = uptime();
  return point;
}
