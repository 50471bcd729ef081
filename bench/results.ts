// What a bench run measured (bench/results.json), and the statistics every table and chart is
// made of: RESULTS.md and the SVGs are both drawn from this file alone (report.ts, charts.ts).
import { readFileSync } from 'node:fs';

export type Tool = 'mxplay' | 'ansible' | 'floor';
export type Kind = 'first' | 'noop' | 'check';
export const TOOLS: Tool[] = ['mxplay', 'ansible', 'floor'];
export const KINDS: Kind[] = ['first', 'noop', 'check'];
export const KIND_LABEL: Record<Kind, string> = {
  first: 'first run',
  noop: 'no-op run',
  check: '`--check`, one var changed',
};
export const TOOL_LABEL: Record<Tool, string> = { mxplay: 'mxplay', ansible: 'Ansible', floor: 'floor (ssh2, one exec)' };

export interface Sample {
  tool: Tool;
  kind: Kind;
  hosts: number;
  ms: number;
  /** mxplay: from --json, per host */
  roundTrips?: number[];
  /** mxplay: from --json, per host: seconds from its connect to its end */
  hostSeconds?: number[];
  load1: number;
}

/** Repetitions per tool and kind at one point (0: not run there). */
export type Reps = Record<Tool, Record<Kind, number>>;

/** One point of the matrix: so many hosts, so many resources per host. */
export interface Point {
  hosts: number;
  /** resources per host (workload.ts scaleOf) */
  resources: number;
  /** the tenants that make them (0: the base workload, the one Ansible runs too) */
  tenants: number;
  reps: Reps;
  samples: Sample[];
  /** mxplay's peak RSS per kind, KB, each from a run of its own under GNU time */
  rssKb: Partial<Record<Kind, number>>;
  loadBefore: string;
  loadAfter: string;
  /** wall-clock seconds the point took, resets, settles and RSS runs included: what it costs */
  wallS?: number;
}

/** mxplay's no-op at one point with --forks N, for choosing the default from data. */
export interface ForksResult {
  hosts: number;
  resources: number;
  runs: { forks: number; ms: number[]; load1: number[] }[];
  wallS?: number;
}

/** One host's link cut (its bridge port down) while mxplay waits on it: when is it reported? */
export interface DeadConnection {
  host: string;
  /** from the cut to the mxplay process's exit with the host reported failed */
  reportedS: number | null;
  /** what mxplay said about the host (first line) */
  message: string;
  exitCode: number;
  timeoutS: number;
}

export interface SiteResult {
  host: string;
  firstS: number;
  firstChanged: number;
  noop: { ms: number; roundTrips: number; load1: number }[];
  check: { ms: number; roundTrips: number; load1: number }[];
}

export interface Results {
  version: 2;
  started: string;
  finished?: string;
  /** the command line's matrix, as run */
  command: string;
  quick: boolean;
  /** read from a results.json of the earlier bench (before the resources axis) */
  legacy?: boolean;
  info: Record<string, string>;
  notes: string[];
  incidents: string[];
  points: Point[];
  forks: ForksResult[];
  deadConnection?: DeadConnection;
  site?: SiteResult;
  /** where the run's wall-clock time went: booting, set-up, cross-checks, each point, ... */
  phases?: { what: string; s: number }[];
}

// ---------------------------------------------------------------------------------------------
// statistics

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const samplesOf = (p: Point, tool: Tool, kind: Kind) => p.samples.filter((s) => s.tool === tool && s.kind === kind);

/** Median, min and max in seconds; undefined without samples. */
export function stat(p: Point, tool: Tool, kind: Kind): { median: number; min: number; max: number; n: number } | undefined {
  const s = samplesOf(p, tool, kind).map((x) => x.ms / 1000);
  return s.length ? { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length } : undefined;
}

/** median(a) / median(b), undefined when either is missing. */
export function ratioOf(p: Point, a: Tool, b: Tool, kind: Kind): number | undefined {
  const x = stat(p, a, kind);
  const y = stat(p, b, kind);
  return x && y ? x.median / y.median : undefined;
}

export const fmtS = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));
export const fmtRatio = (r: number | undefined) => (r === undefined ? '–' : r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`);
export const peakRssMb = (p: Point) => {
  const kb = Object.values(p.rssKb);
  return kb.length ? Math.max(...kb) / 1024 : undefined;
};

/** The matrix's two axes: hosts at the smallest workload, resources at the fewest hosts. */
export function axes(points: Point[]): { hostsAxis: Point[]; resourcesAxis: Point[]; others: Point[] } {
  if (!points.length) return { hostsAxis: [], resourcesAxis: [], others: [] };
  const r0 = Math.min(...points.map((p) => p.resources));
  const h0 = Math.min(...points.map((p) => p.hosts));
  const hostsAxis = points.filter((p) => p.resources === r0).sort((a, b) => a.hosts - b.hosts);
  const resourcesAxis = points.filter((p) => p.hosts === h0).sort((a, b) => a.resources - b.resources);
  const others = points.filter((p) => !hostsAxis.includes(p) && !resourcesAxis.includes(p)).sort((a, b) => a.hosts - b.hosts || a.resources - b.resources);
  return { hostsAxis, resourcesAxis, others };
}

export function findPoint(r: Results, hosts: number, resources: number): Point | undefined {
  return r.points.find((p) => p.hosts === hosts && p.resources === resources);
}

// ---------------------------------------------------------------------------------------------
// the file

interface V1 {
  started: string;
  info: Record<string, string>;
  reps: Record<Tool, number>;
  notes: string[];
  incidents?: string[];
  blocks: { hosts: number; samples: Sample[]; rssKb: Partial<Record<Kind, number>>; loadBefore: string; loadAfter: string }[];
  site?: SiteResult;
}

/** Reads bench/results.json; a file of the earlier bench (hosts 1 and 5, 59 resources) is read as its points. */
export function loadResults(path: string): Results {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Results | V1;
  if ('version' in j && j.version === 2) return j;
  const v1 = j as V1;
  const per = (n: number) => ({ first: n, noop: n, check: n });
  return {
    version: 2,
    started: typeof v1.started === 'string' ? v1.started : new Date(v1.started).toISOString(),
    command: `npm run bench -- --hosts ${v1.blocks.map((b) => b.hosts).join(',')}`,
    quick: false,
    legacy: true,
    info: v1.info,
    notes: v1.notes,
    incidents: v1.incidents ?? [],
    points: v1.blocks.map((b) => ({
      hosts: b.hosts,
      resources: 59,
      tenants: 0,
      reps: { mxplay: per(v1.reps.mxplay), ansible: per(v1.reps.ansible), floor: per(v1.reps.floor) },
      samples: b.samples,
      rssKb: b.rssKb,
      loadBefore: b.loadBefore,
      loadAfter: b.loadAfter,
    })),
    forks: [],
    site: v1.site,
  };
}
