// The command line of `npm run bench`, and the matrix it asks for: which points (hosts ×
// resources per host), which tools at each, how many repetitions.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH } from './proc.ts';
import type { Kind, Reps, Tool } from './results.ts';
import { scaleFor } from './workload.ts';

export const USAGE = `npm run bench [-- options]                 (as root: boots lab hosts bench1..benchN)

  --hosts 1,5,20,50         the hosts axis (at the smallest workload)
  --resources 60,600,3000   the resources axis, per host (at the fewest hosts); 60 is the base
                            workload of 59 resources, the only one Ansible runs
  --points 50x600           extra points, HOSTSxRESOURCES (the default one is the RSS goal's); none: no extra
  --grid                    every hosts × resources combination instead of the two axes
  --reps 3                  repetitions of mxplay and the floor per run kind
  --points-reps 1           theirs at the --points (50 × 600: each first run takes minutes)
  --ansible-reps 1          Ansible's, at --ansible-hosts below 20 (at 20 and more: the no-op, once)
  --ansible-hosts 1,5,20    where Ansible runs (base workload only); --no-ansible: nowhere
  --forks 5,10,20,50        mxplay no-op with each --forks, at --forks-hosts (base workload)
  --forks-hosts 20,50       --no-forks: skip
  --no-dead-connection      skip cutting one host's link mid-run (about 1 min)
  --no-site                 skip the site.yml block (postgres, synapse, nginx: ~3 min of apt)
  --quick                   a minimal validation run: --hosts 1,5 --resources 60,600 --reps 1
                            --points none --ansible-hosts 1 --forks 5,10 --forks-hosts 5 --no-site,
                            written to bench/quick/ (not over the reference results)
  --out DIR                 where RESULTS.md, results.json and charts/ go (default bench/)
  --boot-batch 10           lab hosts booted at once
  --report-only             RESULTS.md and the charts again from DIR/results.json, measuring nothing
  --no-write                measure, write nothing`;

export interface PlannedPoint {
  hosts: number;
  /** asked for on the command line */
  wanted: number;
  tenants: number;
  resources: number;
  reps: Reps;
}

export interface Plan {
  command: string;
  quick: boolean;
  out: string;
  reportOnly: boolean;
  write: boolean;
  bootBatch: number;
  points: PlannedPoint[];
  /** the largest number of hosts any point uses */
  maxHosts: number;
  /** hosts Ansible runs on (python3-apt set up there) */
  ansibleHosts: number;
  forks: { hosts: number[]; values: number[]; reps: number };
  deadConnection: boolean;
  site: boolean;
  siteReps: number;
}

/** Ansible's repetitions at so many hosts: from 20 hosts on, one no-op (a run there takes minutes). */
export const ANSIBLE_NOOP_ONLY_FROM = 20;

const list = (s: string, what: string) => {
  const xs = s.split(',').filter(Boolean).map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what}: positive whole numbers, comma-separated, got ${s}`);
  return [...new Set(xs)].sort((a, b) => a - b);
};

export function parsePlan(argv: string[]): Plan {
  const { values: o } = parseArgs({
    args: argv,
    options: {
      hosts: { type: 'string' },
      resources: { type: 'string' },
      points: { type: 'string' },
      grid: { type: 'boolean', default: false },
      reps: { type: 'string' },
      'points-reps': { type: 'string' },
      'ansible-reps': { type: 'string' },
      'ansible-hosts': { type: 'string' },
      'no-ansible': { type: 'boolean', default: false },
      forks: { type: 'string' },
      'forks-hosts': { type: 'string' },
      'no-forks': { type: 'boolean', default: false },
      'no-dead-connection': { type: 'boolean', default: false },
      'no-site': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'boot-batch': { type: 'string', default: '10' },
      'report-only': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const q = o.quick;
  const hosts = list(o.hosts ?? (q ? '1,5' : '1,5,20,50'), '--hosts');
  const resources = list(o.resources ?? (q ? '60,600' : '60,600,3000'), '--resources');
  const reps = Number(o.reps ?? (q ? 1 : 3));
  const pointsReps = Number(o['points-reps'] ?? 1);
  const ansibleReps = Number(o['ansible-reps'] ?? 1);
  const ansibleAt = o['no-ansible'] ? [] : list(o['ansible-hosts'] ?? (q ? '1' : '1,5,20'), '--ansible-hosts');
  const extra = (o.points ?? (q ? 'none' : '50x600')) === 'none' ? [] : (o.points ?? '50x600').split(',').filter(Boolean).map((p) => {
    const m = /^(\d+)x(\d+)$/.exec(p);
    if (!m) throw new Error(`--points: HOSTSxRESOURCES, comma-separated, got ${p}`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  if (!(reps >= 1) || !(ansibleReps >= 1) || !(pointsReps >= 1)) throw new Error('--reps, --points-reps, --ansible-reps: 1 or more');

  // [hosts, resources, repetitions of mxplay and the floor]; a point asked for twice keeps the first
  const pairs = new Map<string, readonly [number, number, number]>();
  const add = (h: number, r: number, n: number) => {
    const key = `${h}x${scaleFor(r).tenants}`;
    if (!pairs.has(key)) pairs.set(key, [h, r, n]);
  };
  if (o.grid) for (const h of hosts) for (const r of resources) add(h, r, reps);
  else {
    for (const h of hosts) add(h, resources[0]!, reps);
    for (const r of resources) add(hosts[0]!, r, reps);
  }
  for (const [h, r] of extra) add(h, r, pointsReps);

  const all = (n: number): Record<Kind, number> => ({ first: n, noop: n, check: n });
  const points: PlannedPoint[] = [...pairs.values()].map(([h, r, n]) => {
    const s = scaleFor(r);
    const ansible = s.tenants === 0 && ansibleAt.includes(h)
      ? h >= ANSIBLE_NOOP_ONLY_FROM ? { first: 0, noop: 1, check: 0 } : all(ansibleReps)
      : all(0);
    const repsAt: Record<Tool, Record<Kind, number>> = { mxplay: all(n), floor: all(n), ansible };
    return { hosts: h, wanted: r, tenants: s.tenants, resources: s.resources, reps: repsAt };
  }).sort((a, b) => a.hosts - b.hosts || a.resources - b.resources); // by hosts: they are booted as needed

  const forksHosts = o['no-forks'] ? [] : list(o['forks-hosts'] ?? (q ? '5' : '20,50'), '--forks-hosts');
  const base = Math.min(...points.map((p) => p.resources));
  const missing = forksHosts.filter((h) => !points.some((p) => p.hosts === h && p.resources === base));
  if (missing.length) throw new Error(`--forks-hosts ${missing.join(',')}: not a point of the hosts axis (--hosts)`);
  const maxHosts = Math.max(...points.map((p) => p.hosts));
  const out = o.out ?? (q ? join(BENCH, 'quick') : BENCH);
  return {
    command: `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`,
    quick: q,
    out,
    reportOnly: o['report-only'],
    write: !o['no-write'],
    bootBatch: Number(o['boot-batch']),
    points,
    maxHosts,
    ansibleHosts: Math.max(0, ...points.filter((p) => Object.values(p.reps.ansible).some((n) => n > 0)).map((p) => p.hosts)),
    forks: { hosts: forksHosts, values: list(o.forks ?? (q ? '5,10' : '5,10,20,50'), '--forks'), reps },
    deadConnection: !o['no-dead-connection'],
    site: !(o['no-site'] || q),
    siteReps: reps,
  };
}

export function describePlan(p: Plan): string {
  const runs = (r: Record<Kind, number>) => (Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => `${k}×${n}`).join(' ') || '–');
  return [
    `points (hosts × resources per host): ${p.points.length}`,
    ...p.points.map((x) => `  ${String(x.hosts).padStart(3)} × ${String(x.resources).padStart(4)}  mxplay+floor ${runs(x.reps.mxplay)}; Ansible ${runs(x.reps.ansible)}`),
    `--forks ${p.forks.values.join(',')} at ${p.forks.hosts.join(',') || '–'} host(s), ${p.forks.reps} rep(s)`,
    `dead connection: ${p.deadConnection ? 'measured' : 'skipped'}; site.yml: ${p.site ? 'measured' : 'skipped'}`,
  ].join('\n');
}
