// mxplay against the bare floor and Ansible, on the same lab hosts (`npm run bench`, as root),
// along two axes: hosts (1, 5, 20, 50) and resources per host (about 60, 600, 3000).
//
// Boots lab hosts bench1..benchN as the points need them (points in order of hosts), and at each
// point of the matrix times whole processes from outside (spawn until exit), as a user experiences
// them:
//   first run   every host reset before each repetition (the workload's files and users removed)
//   no-op run   right after, nothing to change
//   --check     after one variable changed (-e bench_workers=8: 3 templates and the line edit)
// for mxplay (`node bin/mxplay.js run mxplay.yml ...`, from the esbuild bundle), the bare floor
// (floor.ts: node-ssh, one connection and one probing exec per host) and, at the base workload on
// 1, 5 and 20 hosts, Ansible (`ansible-playbook ansible.yml`, Debian 12's ansible-core, pipelining
// on). Repetitions are interleaved so that background load falls on all tools alike. Then mxplay's
// peak RSS per point, its no-op with each --forks at 20 and 50 hosts, one host's connection going
// dead mid-run, and site.yml's no-op.
// Before timing, at each workload size, a cross-check: a host converged by one tool is a no-op
// for the other (mxplay and the floor; Ansible too at the base workload). Every timed run is
// checked too (exit code, changes per host), so a fast failure can never pass for a fast run.
//
//   npm run bench -- --help
// Writes bench/RESULTS.md, bench/results.json and bench/charts/*.svg (--quick: bench/quick/).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type BenchLab, benchNames, bootBench, lostHosts, writeInventory } from './hosts.ts';
import { crossCheck } from './crosscheck.ts';
import { measureDeadConnection } from './dead-connection.ts';
import { bundleFloor, floorSpec, writeFloorSpec } from './floor-spec.ts';
import { fastestForks, measureForks } from './forks.ts';
import { describePlan, parsePlan, type Plan } from './matrix.ts';
import { measurePoint } from './measure.ts';
import { BENCH, log, must, timed, uptime } from './proc.ts';
import { writeCharts } from './charts.ts';
import { goals } from './goals.ts';
import { report, pointsTable } from './report.ts';
import { loadResults, type Results } from './results.ts';
import { measureSite } from './site.ts';
import type { Ctx } from './tools.ts';
import { BENCH_VARS, CHANGED_VAR } from './workload.ts';

const ROOT = join(BENCH, '..');

async function ensureAnsible(): Promise<string> {
  const have = await timed('sh', ['-c', 'command -v ansible-playbook']);
  if (have.code !== 0) {
    log('installing ansible-core (Debian 12) ...');
    await must('apt-get', ['install', '-y', '-t', 'bookworm', 'ansible-core'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const v = await must('ansible-playbook', ['--version']);
  return /core ([\d.]+)/.exec(v.stdout)?.[1] ?? v.stdout.split('\n')[0]!;
}

/** The CLI runs from its bundle: build it when missing or older than any source file. */
async function ensureBundle(): Promise<void> {
  const bundle = join(ROOT, 'dist/mxplay.mjs');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
    }, 0);
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'roles')))) return;
  log('building the mxplay bundle (node scripts/build.mjs) ...');
  await must(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
}

/** The commit, read from .git itself (no git process: the bench never touches the index). */
function headCommit(): string {
  try {
    let dir = join(ROOT, '.git');
    if (statSync(dir).isFile()) dir = readFileSync(dir, 'utf8').replace(/^gitdir:\s*/, '').trim();
    const head = readFileSync(join(dir, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return head.slice(0, 7);
    const common = existsSync(join(dir, 'commondir')) ? join(dir, readFileSync(join(dir, 'commondir'), 'utf8').trim()) : dir;
    for (const d of [dir, common]) if (existsSync(join(d, ref))) return readFileSync(join(d, ref), 'utf8').trim().slice(0, 7);
    const packed = readFileSync(join(common, 'packed-refs'), 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
    return packed?.slice(0, 7) ?? '?';
  } catch {
    return '?';
  }
}

async function machine(ansibleVersion: string, quick: boolean): Promise<Record<string, string>> {
  // --no-optional-locks: read-only, never takes the index lock from someone working in the tree
  const dirty = quick ? undefined : await timed('git', ['--no-optional-locks', '-C', ROOT, 'status', '--porcelain', '--', 'src', 'roles', 'bin', 'scripts']).catch(() => undefined);
  const state = dirty === undefined ? ' (working tree not checked)' : dirty.stdout.trim() ? ' + uncommitted changes in src/roles' : '';
  const ssh2 = JSON.parse(readFileSync(join(ROOT, 'node_modules/ssh2/package.json'), 'utf8')) as { version: string };
  const os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.*)"/)?.[1] ?? '?';
  return {
    cpu: `${cpus()[0]?.model ?? '?'}, ${cpus().length} cores`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    control: `${os}, Node ${process.versions.node}, ssh2 ${ssh2.version}, ansible-core ${ansibleVersion}`,
    targets: 'lab hosts (systemd-nspawn on this machine, Debian sid, bridge 10.231.0.0/24)',
    mxplay: `${headCommit()}${state}, run from the esbuild bundle`,
  };
}

async function writeOut(r: Results, out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  const list = await writeCharts(r, out);
  writeFileSync(join(out, 'RESULTS.md'), report(r, list));
}

async function main() {
  const plan = parsePlan(process.argv.slice(2));
  if (plan.reportOnly) {
    const r = loadResults(join(plan.out, 'results.json'));
    const list = await writeCharts(r, plan.out);
    writeFileSync(join(plan.out, 'RESULTS.md'), report(r, list));
    log(`wrote ${join(plan.out, 'RESULTS.md')} and ${list.length} chart(s) from results.json`);
    return;
  }
  log(`${plan.command}\n${describePlan(plan)}`);
  log(`load ${uptime()}`);
  const phases: { what: string; s: number }[] = [];
  const phase = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      phases.push({ what, s: (performance.now() - t0) / 1000 });
    }
  };

  const ansibleVersion = plan.ansibleHosts ? await ensureAnsible() : '(not run)';
  await ensureBundle();
  const work = mkdtempSync(join(tmpdir(), 'mxplay-bench-'));
  // The floor's bundle must sit in the repo to resolve node-ssh; removed at the end.
  const outDir = join(BENCH, '.out');
  mkdirSync(outDir, { recursive: true });
  const floorBin = await bundleFloor(outDir);
  const names = benchNames(plan.maxHosts);
  let lab: BenchLab | undefined;
  const stop = async () => {
    await lab?.stop();
    rmSync(outDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    log('interrupted: stopping the bench hosts');
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = new Date();
  const results: Results = {
    version: 2,
    started: started.toISOString(),
    command: plan.command,
    quick: plan.quick,
    info: {},
    notes: [],
    incidents: [],
    points: [],
    forks: [],
    phases,
  };
  const save = async () => {
    if (plan.write) await writeOut(results, plan.out);
  };
  try {
    // Booted as the points need them (they come by number of hosts): bench1 first, for the
    // cross-checks and the 1-host points, alone on the machine.
    const boot = (n: number) => bootBench(n, { batch: plan.bootBatch, ansibleHosts: benchNames(plan.ansibleHosts) });
    lab = await phase('booting and setting up 1 lab host', () => boot(1));
    results.info = await machine(ansibleVersion, plan.quick);

    const ctxFor = (hosts: string[], tenants: number): Ctx => {
      const dir = join(work, `h${hosts.length}-t${tenants}`);
      mkdirSync(dir, { recursive: true });
      return {
        lab: lab!,
        hosts,
        tenants,
        inventory: writeInventory(lab!, dir, hosts),
        floorBin,
        floorSpec: writeFloorSpec(join(dir, 'floor.json'), floorSpec(lab!, hosts, BENCH_VARS, tenants)),
        floorSpecChanged: writeFloorSpec(join(dir, 'floor-changed.json'), floorSpec(lab!, hosts, { ...BENCH_VARS, [CHANGED_VAR.name]: CHANGED_VAR.value }, tenants)),
      };
    };
    /** The lab is shared: if our hosts vanish mid-way (someone's `lab down`), boot fresh ones and repeat. */
    const onHosts = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await f();
        } catch (e) {
          const up = lab!.hosts.length;
          const lost = await lostHosts(lab!, benchNames(up));
          if (!lost.length || attempt >= 3) throw e;
          const msg = `${new Date().toISOString().slice(11, 16)} UTC: lab host(s) ${lost.join(', ')} were stopped by someone else during ${what}; it was repeated on freshly booted hosts`;
          log(msg);
          results.incidents.push(msg);
          await lab!.stop();
          lab = await boot(up);
        }
      }
    };

    // cross-checks, once per workload size, on bench1
    for (const tenants of [...new Set(plan.points.map((p) => p.tenants))]) {
      const res = plan.points.find((p) => p.tenants === tenants)!.resources;
      const notes = await phase(`cross-check at ${res} resources`, () =>
        onHosts(`the cross-check at ${res} resources`, () => crossCheck(ctxFor(['bench1'], tenants), tenants === 0 && plan.ansibleHosts > 0)),
      );
      results.notes.push(...notes);
    }

    for (const p of plan.points) {
      const what = `${p.hosts} host(s) × ${p.resources} resources`;
      if (p.hosts > lab.hosts.length) {
        const from = lab.hosts.length + 1;
        await phase(`booting and setting up bench${from}..bench${p.hosts}`, () => lab!.grow(p.hosts));
      }
      const t0 = performance.now();
      const point = await phase(what, () => onHosts(what, () => measurePoint(ctxFor(names.slice(0, p.hosts), p.tenants), p.reps)));
      point.wallS = (performance.now() - t0) / 1000;
      results.points.push(point);
      log(`\n${pointsTable([point])}`);
      if (plan.forks.hosts.includes(p.hosts) && p.tenants === 0) {
        const t1 = performance.now();
        const f = await phase(`--forks ${plan.forks.values.join(',')} at ${p.hosts} host(s)`, () =>
          onHosts(`--forks at ${p.hosts} hosts`, () => measureForks(ctxFor(names.slice(0, p.hosts), 0), plan.forks.values, plan.forks.reps)),
        );
        f.wallS = (performance.now() - t1) / 1000;
        results.forks.push(f);
        const best = fastestForks(f);
        log(`${p.hosts} hosts: fastest no-op with --forks ${best.forks} (${best.medianS.toFixed(3)} s)`);
      }
      await save();
    }

    if (plan.site) {
      results.site = await phase('site.yml on bench1 (apt installs included)', () => onHosts('the site.yml block', () => measureSite(lab!, 'bench1', work, plan.siteReps)));
      await save();
    }
    if (plan.deadConnection) {
      const host = 'bench1';
      results.deadConnection = await phase('a dead connection', () =>
        measureDeadConnection(lab!, host, writeInventory(lab!, join(work, 'dead-inv'), [host]), work),
      );
    }
    results.finished = new Date().toISOString();
    await save();
    process.stdout.write(`\n${pointsTable(results.points)}\n\n${goals(results).map((g) => `${g.met === undefined ? '–' : g.met ? 'met   ' : 'MISSED'}  ${g.goal}: ${g.measured}`).join('\n')}\n`);
    if (plan.write) log(`wrote ${join(plan.out, 'RESULTS.md')}, results.json and charts/`);
  } finally {
    await stop();
  }
}

await main();
