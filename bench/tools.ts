// The three tools at one point of the matrix, each run checked: exit code and the changes it
// reports on every host, so that a fast failure can never pass for a fast run.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchLab } from './hosts.ts';
import { BENCH, RunFailed, tail, timed, type Proc } from './proc.ts';
import type { Kind, Tool } from './results.ts';
import { CHANGED_VAR, HANDLERS, PACKAGES, TENANTS_VAR, scaleOf } from './workload.ts';

export const BIN = join(BENCH, '../bin/mxplay.js');

export interface Ctx {
  lab: BenchLab;
  hosts: string[];
  tenants: number;
  inventory: string;
  floorBin: string;
  floorSpec: string;
  floorSpecChanged: string;
}

/** What each run must report per host, or it does not count. */
export function wantChanges(kind: Kind, tenants: number): number {
  // every resource but the packages (installed) and the handlers; -e bench_workers=8 touches
  // 3 templates and the line edit, at every scale
  if (kind === 'first') return scaleOf(tenants).resources - PACKAGES.length - HANDLERS.length;
  return kind === 'noop' ? 0 : 4;
}
/** Handlers Ansible counts as changed tasks: both in the first run; in --check the one that
 * benchapp.conf (it uses bench_workers) notifies. */
export const WANT_HANDLERS: Record<Kind, number> = { first: HANDLERS.length, noop: 0, check: 1 };

export const ANSIBLE_ENV = { ...process.env, ANSIBLE_CONFIG: join(BENCH, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' };
const MXPLAY_ENV = { ...process.env, NO_COLOR: '1' };

export function mxplayArgs(c: Ctx, kind: Kind, forks?: number): string[] {
  return [
    BIN, 'run', 'mxplay.yml', '-i', c.inventory, '--json',
    ...(c.tenants ? ['-e', `${TENANTS_VAR}=${c.tenants}`] : []),
    ...(forks ? ['--forks', String(forks)] : []),
    ...(kind === 'check' ? ['--check', '-e', `${CHANGED_VAR.name}=${CHANGED_VAR.value}`] : ['--yes']),
  ];
}

export function ansibleArgs(c: Ctx, kind: Kind): string[] {
  return ['-i', c.inventory, 'ansible.yml', ...(kind === 'check' ? ['--check', '--diff', '-e', `${CHANGED_VAR.name}=${CHANGED_VAR.value}`] : [])];
}

export interface MxplayJson {
  hosts: { host: string; changes: { type: string; id: string; summary: string }[] }[];
  results: { host: string; status: string; changed: number; handlers: string[]; roundTrips: number; seconds: number; message?: string }[];
}

export interface ToolRun {
  ms: number;
  roundTrips?: number[];
  hostSeconds?: number[];
}

export async function runTool(tool: Tool, kind: Kind, c: Ctx, forks?: number): Promise<ToolRun> {
  const want = wantChanges(kind, c.tenants);
  const fail = (why: string, r: Proc): never => {
    throw new RunFailed(`${tool} ${kind} on ${c.hosts.length} host(s), ${scaleOf(c.tenants).resources} resources: ${why}\n${tail(r.stderr + '\n' + r.stdout)}`);
  };
  if (tool === 'mxplay') {
    const r = await timed(process.execPath, mxplayArgs(c, kind, forks), { env: MXPLAY_ENV, timeoutMs: 30 * 60_000 });
    if (r.code !== 0) fail(`exit ${r.code}`, r);
    const j = JSON.parse(r.stdout) as MxplayJson;
    for (const h of c.hosts) {
      const res = j.results.find((x) => x.host === h);
      const plan = j.hosts.find((x) => x.host === h);
      if (!res || !plan) fail(`no result for ${h}`, r);
      if (plan!.changes.length !== want) fail(`${h}: ${plan!.changes.length} planned changes, want ${want}`, r);
      if (kind === 'first' && (res!.changed !== want || res!.handlers.length !== HANDLERS.length)) {
        fail(`${h}: changed ${res!.changed}, handlers ${res!.handlers.length}`, r);
      }
    }
    const res = c.hosts.map((h) => j.results.find((x) => x.host === h)!);
    return { ms: r.ms, roundTrips: res.map((x) => x.roundTrips), hostSeconds: res.map((x) => x.seconds) };
  }
  if (tool === 'ansible') {
    if (c.tenants) throw new Error('Ansible runs the base workload only');
    const r = await timed('ansible-playbook', ansibleArgs(c, kind), { env: ANSIBLE_ENV, timeoutMs: 60 * 60_000 });
    if (r.code !== 0) fail(`exit ${r.code}`, r);
    const recap = ansibleRecap(r.stdout);
    // handlers are tasks for Ansible's recap (and "run" in check mode)
    const wantA = want + WANT_HANDLERS[kind];
    for (const h of c.hosts) {
      const x = recap.get(h);
      if (!x) fail(`no recap for ${h}`, r);
      if (x!.failed || x!.unreachable || x!.changed !== wantA) fail(`${h}: ${JSON.stringify(x)}, want changed=${wantA}`, r);
    }
    return { ms: r.ms };
  }
  const spec = kind === 'check' ? c.floorSpecChanged : c.floorSpec;
  const r = await timed(process.execPath, [c.floorBin, spec, kind === 'first' ? 'first' : 'probe'], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) fail(`exit ${r.code}`, r);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; changes: number });
  for (const h of c.hosts) {
    const x = lines.find((l) => l.host === h);
    if (!x || x.changes !== want) fail(`${h}: ${x?.changes} changes, want ${want}`, r);
  }
  return { ms: r.ms };
}

export function ansibleRecap(out: string): Map<string, { changed: number; failed: number; unreachable: number }> {
  const m = new Map<string, { changed: number; failed: number; unreachable: number }>();
  for (const l of out.split('\n')) {
    const x = /^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(l);
    if (x) m.set(x[1]!, { changed: Number(x[2]), unreachable: Number(x[3]), failed: Number(x[4]) });
  }
  return m;
}

/** Peak RSS of one mxplay process (KB), from GNU time: a run of its own, never a timed one. */
export async function mxplayRss(c: Ctx, kind: Kind): Promise<number> {
  const out = join(tmpdir(), `mxplay-bench-rss-${process.pid}`);
  const r = await timed('/usr/bin/time', ['-f', '%M', '-o', out, process.execPath, ...mxplayArgs(c, kind)], { env: MXPLAY_ENV, timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new RunFailed(`mxplay ${kind} (for RSS): exit ${r.code}\n${tail(r.stderr)}`);
  const kb = Number(readFileSync(out, 'utf8').trim().split('\n').at(-1));
  rmSync(out, { force: true });
  return kb;
}
