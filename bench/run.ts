// mxplay against Ansible, side by side, on the same lab hosts (`npm run bench`, as root).
//
// Boots its own lab hosts bench1..bench5, and for 1 host and for 5 hosts times whole processes
// from outside (spawn until exit), as a user experiences them:
//   first run   every host reset before each repetition (the workload's files removed)
//   no-op run   right after, nothing to change
//   --check     after one variable changed (-e bench_workers=8: 3 templates and the line edit)
// for mxplay (`node bin/mxplay.js run mxplay.yml ...`, from the esbuild bundle), Ansible
// (`ansible-playbook ansible.yml`, Debian 12's ansible-core, pipelining on) and the bare floor
// (floor.ts: node-ssh, one connection and one probing exec per host). Repetitions of the three
// tools are interleaved so that background load falls on all of them alike.
// Before timing, a cross-check: a host converged by Ansible is a no-op for mxplay and the other
// way round, i.e. the two playbooks do the same thing. Every timed run is checked too (exit code,
// changes per host), so a fast failure can never pass for a fast run.
//
//   npm run bench [-- --mxplay-reps 5 --ansible-reps 3 --floor-reps 5 --hosts 1,5 --no-ansible]
// Writes bench/RESULTS.md and bench/results.json.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ejs from 'ejs';
import { parse, stringify } from 'yaml';
import { hostPaths, labHosts, type LabFixture } from '../test/lab/index.ts';
import type { FloorFile, FloorSpec } from './floor.ts';
import {
  BENCH_VARS, CHANGED_VAR, DIRECTORIES, GUARDED, HANDLERS, LINE_EDIT, PACKAGES, RESOURCE_COUNT, TEMPLATES,
  lineEditContent, resetScript, setupScript,
} from './workload.ts';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');
const BIN = join(ROOT, 'bin/mxplay.js');
const NAMES = ['bench1', 'bench2', 'bench3', 'bench4', 'bench5'];

type Tool = 'mxplay' | 'ansible' | 'floor';
type Kind = 'first' | 'noop' | 'check';
const KINDS: Kind[] = ['first', 'noop', 'check'];
const KIND_LABEL: Record<Kind, string> = {
  first: 'first run',
  noop: 'no-op run',
  check: '`--check`, one var changed',
};

/** What each run must report per host, or it does not count. */
const WANT_CHANGES: Record<Kind, number> = {
  // 10 directories + 40 files + line edit + command (handlers come on top)
  first: DIRECTORIES.length + TEMPLATES.length + 1 + 1,
  noop: 0,
  // 3 templates use bench_workers, plus the line edit
  check: 4,
};
/** Handlers Ansible counts as changed tasks: both in the first run; in --check the one that
 * benchapp.conf (it uses bench_workers) notifies. */
const WANT_HANDLERS: Record<Kind, number> = { first: HANDLERS.length, noop: 0, check: 1 };

interface Sample {
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

// ---------------------------------------------------------------------------------------------
// processes

interface Proc {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawns and waits: the time is what the user waits for, from fork to exit. */
function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? BENCH, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, ms });
    });
  });
}

async function must(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Proc> {
  const r = await timed(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}\n${tail(r.stderr + r.stdout)}`);
  return r;
}

const tail = (s: string, n = 25) => s.trim().split('\n').slice(-n).join('\n');
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const uptime = () => loadavg().map((l) => l.toFixed(2)).join(', ');

// ---------------------------------------------------------------------------------------------
// preparation

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

/** floor.ts as one ESM file, like mxplay's bundle: node-ssh stays a package (ssh2 has add-ons). */
async function bundleFloor(outDir: string): Promise<string> {
  const { build } = await import('esbuild');
  const out = join(outDir, 'floor.mjs');
  await build({
    entryPoints: [join(BENCH, 'floor.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['node-ssh', 'ssh2', 'cpu-features'],
    logLevel: 'warning',
  });
  return out;
}

function render(host: string, vars: typeof BENCH_VARS): FloorFile[] {
  const files = TEMPLATES.map((t) => {
    const path = join(BENCH, 'roles/benchconf/templates', `${t.name}.ejs`);
    const text = ejs.render(readFileSync(path, 'utf8'), { ...vars, host }, { filename: path, strict: false, escape: (s: unknown) => String(s) });
    return { path: t.dest, text, mode: t.mode, group: t.group ?? 'root', notify: t.notify };
  });
  files.push({ path: LINE_EDIT.path, text: lineEditContent(vars.bench_workers), mode: 0o644, group: 'root', notify: undefined });
  return files.map((f) => ({
    path: f.path,
    content: Buffer.from(f.text).toString('base64'),
    sha: sha256(f.text),
    mode: f.mode,
    owner: 'root',
    group: f.group,
    ...(f.notify ? { notify: f.notify } : {}),
  }));
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function floorSpec(lab: LabFixture, hosts: string[], vars: typeof BENCH_VARS): FloorSpec {
  return {
    user: 'root',
    keyFile: lab.keyFile,
    knownHostsFile: lab.knownHostsFile,
    dirs: DIRECTORIES.map((d) => ({ path: d.path, mode: d.mode, owner: 'root', group: d.group ?? 'root' })),
    packages: PACKAGES,
    command: GUARDED,
    handlers: Object.fromEntries(
      HANDLERS.map((h) => [h.name, `systemctl ${h.state === 'reloaded' ? 'reload' : 'restart'} ${h.service}`]),
    ),
    hosts: hosts.map((name) => ({ name, ip: lab.host(name).ip, files: render(name, vars) })),
  };
}

// ---------------------------------------------------------------------------------------------
// the three tools, each checked

interface Ctx {
  lab: LabFixture;
  hosts: string[];
  inventory: string;
  floorBin: string;
  floorSpec: string;
  floorSpecChanged: string;
}

const ANSIBLE_ENV = { ...process.env, ANSIBLE_CONFIG: join(BENCH, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' };

function mxplayArgs(c: Ctx, kind: Kind): string[] {
  return [
    BIN, 'run', 'mxplay.yml', '-i', c.inventory, '--json',
    ...(kind === 'check' ? ['--check', '-e', `${CHANGED_VAR.name}=${CHANGED_VAR.value}`] : ['--yes']),
  ];
}

function ansibleArgs(c: Ctx, kind: Kind): string[] {
  return ['-i', c.inventory, 'ansible.yml', ...(kind === 'check' ? ['--check', '--diff', '-e', `${CHANGED_VAR.name}=${CHANGED_VAR.value}`] : [])];
}

class RunFailed extends Error {}

async function runTool(tool: Tool, kind: Kind, c: Ctx): Promise<{ ms: number; roundTrips?: number[]; hostSeconds?: number[] }> {
  const fail = (why: string, r: Proc): never => {
    throw new RunFailed(`${tool} ${kind} on ${c.hosts.length} host(s): ${why}\n${tail(r.stderr + '\n' + r.stdout)}`);
  };
  if (tool === 'mxplay') {
    const r = await timed(process.execPath, mxplayArgs(c, kind), { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 5 * 60_000 });
    if (r.code !== 0) fail(`exit ${r.code}`, r);
    const j = JSON.parse(r.stdout) as {
      hosts: { host: string; changes: unknown[] }[];
      results: { host: string; status: string; changed: number; handlers: string[]; roundTrips: number; seconds: number }[];
    };
    for (const h of c.hosts) {
      const res = j.results.find((x) => x.host === h);
      const plan = j.hosts.find((x) => x.host === h);
      if (!res || !plan) fail(`no result for ${h}`, r);
      if (plan!.changes.length !== WANT_CHANGES[kind]) fail(`${h}: ${plan!.changes.length} planned changes, want ${WANT_CHANGES[kind]}`, r);
      if (kind === 'first' && (res!.changed !== WANT_CHANGES.first || res!.handlers.length !== HANDLERS.length)) {
        fail(`${h}: changed ${res!.changed}, handlers ${res!.handlers.length}`, r);
      }
    }
    const res = c.hosts.map((h) => j.results.find((x) => x.host === h)!);
    return { ms: r.ms, roundTrips: res.map((x) => x.roundTrips), hostSeconds: res.map((x) => x.seconds) };
  }
  if (tool === 'ansible') {
    const r = await timed('ansible-playbook', ansibleArgs(c, kind), { env: ANSIBLE_ENV });
    if (r.code !== 0) fail(`exit ${r.code}`, r);
    const recap = ansibleRecap(r.stdout);
    // handlers are tasks for Ansible's recap (and "run" in check mode)
    const want = WANT_CHANGES[kind] + WANT_HANDLERS[kind];
    for (const h of c.hosts) {
      const x = recap.get(h);
      if (!x) fail(`no recap for ${h}`, r);
      if (x!.failed || x!.unreachable || x!.changed !== want) fail(`${h}: ${JSON.stringify(x)}, want changed=${want}`, r);
    }
    return { ms: r.ms };
  }
  const spec = kind === 'check' ? c.floorSpecChanged : c.floorSpec;
  const r = await timed(process.execPath, [c.floorBin, spec, kind === 'first' ? 'first' : 'probe'], { timeoutMs: 2 * 60_000 });
  if (r.code !== 0) fail(`exit ${r.code}`, r);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; changes: number });
  for (const h of c.hosts) {
    const x = lines.find((l) => l.host === h);
    if (!x || x.changes !== WANT_CHANGES[kind]) fail(`${h}: ${x?.changes} changes, want ${WANT_CHANGES[kind]}`, r);
  }
  return { ms: r.ms };
}

function ansibleRecap(out: string): Map<string, { changed: number; failed: number; unreachable: number }> {
  const m = new Map<string, { changed: number; failed: number; unreachable: number }>();
  for (const l of out.split('\n')) {
    const x = /^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(l);
    if (x) m.set(x[1]!, { changed: Number(x[2]), unreachable: Number(x[3]), failed: Number(x[4]) });
  }
  return m;
}

/** ssh to a host, tried again while it refuses: sshd re-executes itself on each "reload ssh". */
async function sshRetry(c: Ctx, host: string, command: string) {
  for (let attempt = 1; ; attempt++) {
    const r = await c.lab.ssh(host, command, { connectTimeoutS: 5, timeoutMs: 120_000 });
    if (r.code !== 255 || attempt >= 20) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function reset(c: Ctx): Promise<void> {
  const rs = await Promise.all(c.hosts.map((h) => sshRetry(c, h, resetScript())));
  rs.forEach((r, i) => {
    if (r.code !== 0) throw new Error(`reset of ${c.hosts[i]}: exit ${r.code}: ${r.stderr}`);
  });
}

/** After a first run (its handlers reloaded sshd), untimed: wait until every sshd takes logins again. */
async function settle(c: Ctx): Promise<void> {
  await new Promise((res) => setTimeout(res, 300));
  const rs = await Promise.all(c.hosts.map((h) => sshRetry(c, h, 'true')));
  rs.forEach((r, i) => {
    if (r.code !== 0) throw new Error(`${c.hosts[i]} does not take SSH logins after a first run: ${r.stderr}`);
  });
}

/** Peak RSS of one mxplay process (KB), from GNU time. */
async function mxplayRss(c: Ctx, kind: Kind): Promise<number> {
  const out = join(tmpdir(), `mxplay-bench-rss-${process.pid}`);
  const r = await timed('/usr/bin/time', ['-f', '%M', '-o', out, process.execPath, ...mxplayArgs(c, kind)], { env: { ...process.env, NO_COLOR: '1' } });
  if (r.code !== 0) throw new Error(`mxplay ${kind} (for RSS): exit ${r.code}\n${tail(r.stderr)}`);
  const kb = Number(readFileSync(out, 'utf8').trim().split('\n').at(-1));
  rmSync(out, { force: true });
  return kb;
}

// ---------------------------------------------------------------------------------------------
// cross-check: the two playbooks converge to the same bytes, modes and owners

async function crossCheck(c: Ctx): Promise<string[]> {
  const notes: string[] = [];
  log(`cross-check on ${c.hosts.join(', ')}: Ansible converges, mxplay --check must plan 0 changes`);
  await reset(c);
  await runTool('ansible', 'first', c);
  await settle(c);
  const m = await timed(process.execPath, [BIN, 'run', 'mxplay.yml', '-i', c.inventory, '--check', '--json'], { env: { ...process.env, NO_COLOR: '1' } });
  const planned = (JSON.parse(m.stdout) as { hosts: { host: string; changes: { type: string; id: string; summary: string }[] }[] }).hosts;
  const left = planned.flatMap((p) => p.changes.map((x) => `${p.host}: ${x.type} ${x.id} (${x.summary})`));
  if (m.code !== 0 || left.length) throw new Error(`cross-check: after Ansible, mxplay plans changes:\n${left.join('\n')}\n${tail(m.stderr)}`);
  notes.push('after an Ansible first run, `mxplay run --check` plans 0 changes');

  log('cross-check: mxplay converges, ansible-playbook --check must report changed=0');
  await reset(c);
  await runTool('mxplay', 'first', c);
  await settle(c);
  const a = await timed('ansible-playbook', ['-i', c.inventory, 'ansible.yml', '--check', '--diff'], { env: ANSIBLE_ENV });
  const recap = ansibleRecap(a.stdout);
  for (const h of c.hosts) {
    const x = recap.get(h);
    if (a.code !== 0 || !x || x.changed !== 0) throw new Error(`cross-check: after mxplay, Ansible --check: ${JSON.stringify(x)}\n${tail(a.stdout)}`);
  }
  notes.push('after an mxplay first run, `ansible-playbook --check --diff` reports changed=0');

  log('cross-check: the floor converges, mxplay --check must plan 0 changes');
  await reset(c);
  await runTool('floor', 'first', c);
  await settle(c);
  const f = await runTool('mxplay', 'noop', c).catch((e: Error) => e);
  if (f instanceof Error) throw new Error(`cross-check: after the floor's first run, mxplay is no no-op: ${f.message}`);
  notes.push("after the floor's first run, mxplay's run is a no-op (the floor writes the same state)");
  return notes;
}

// ---------------------------------------------------------------------------------------------
// statistics and the report

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function cell(samples: Sample[]): string {
  if (!samples.length) return '–';
  const ms = samples.map((s) => s.ms / 1000);
  const f = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));
  return `${f(median(ms))} (${f(Math.min(...ms))}–${f(Math.max(...ms))})`;
}

function ratio(a: Sample[], b: Sample[]): string {
  if (!a.length || !b.length) return '–';
  const r = median(a.map((s) => s.ms)) / median(b.map((s) => s.ms));
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(1)}×`;
}

interface Block {
  hosts: number;
  samples: Sample[];
  rssKb: Partial<Record<Kind, number>>;
  loadBefore: string;
  loadAfter: string;
}

/** mxplay's own split: per host from its connect to its end (--json `seconds`, the slowest host), and the rest of the process. */
function splitTable(blocks: Block[]): string {
  const rows = [
    '| hosts | run | mxplay process s | of which hosts: connect to end s (slowest host) | rest: start-up, parse, build, output s |',
    '| ---: | --- | ---: | ---: | ---: |',
  ];
  const f = (x: number) => x.toFixed(3);
  for (const b of blocks) {
    for (const kind of KINDS) {
      const xs = b.samples.filter((s) => s.tool === 'mxplay' && s.kind === kind && s.hostSeconds);
      if (!xs.length) continue;
      const total = median(xs.map((s) => s.ms / 1000));
      const host = median(xs.map((s) => Math.max(...s.hostSeconds!)));
      rows.push(`| ${b.hosts} | ${KIND_LABEL[kind]} | ${f(total)} | ${f(host)} | ${f(median(xs.map((s) => s.ms / 1000 - Math.max(...s.hostSeconds!))))} |`);
    }
  }
  return rows.join('\n');
}

function table(blocks: Block[]): string {
  const rows = [
    '| hosts | run | mxplay s | Ansible s | Ansible ÷ mxplay | floor s | mxplay ÷ floor | mxplay SSH round trips per host | mxplay peak RSS | load (1 min) at start of runs |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | :---: |',
  ];
  for (const b of blocks) {
    for (const kind of KINDS) {
      const of = (t: Tool) => b.samples.filter((s) => s.tool === t && s.kind === kind);
      const rts = of('mxplay').flatMap((s) => s.roundTrips ?? []);
      const rt = rts.length ? (Math.min(...rts) === Math.max(...rts) ? `${rts[0]}` : `${Math.min(...rts)}–${Math.max(...rts)}`) : '–';
      const rss = b.rssKb[kind];
      const loads = b.samples.filter((s) => s.kind === kind).map((s) => s.load1);
      const load = loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '–';
      rows.push(
        `| ${b.hosts} | ${KIND_LABEL[kind]} | ${cell(of('mxplay'))} | ${cell(of('ansible'))} | ${ratio(of('ansible'), of('mxplay'))} | ${cell(of('floor'))} | ${ratio(of('mxplay'), of('floor'))} | ${rt} | ${rss ? `${Math.round(rss / 1024)} MB` : '–'} | ${load} |`,
      );
    }
  }
  return rows.join('\n');
}

async function machine(ansibleVersion: string): Promise<Record<string, string>> {
  const git = await timed('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = await timed('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'roles', 'bin', 'scripts']);
  const ssh2 = JSON.parse(readFileSync(join(ROOT, 'node_modules/ssh2/package.json'), 'utf8')) as { version: string };
  const os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.*)"/)?.[1] ?? '?';
  return {
    cpu: `${cpus()[0]?.model ?? '?'}, ${cpus().length} cores`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    control: `${os}, Node ${process.versions.node}, ssh2 ${ssh2.version}, ansible-core ${ansibleVersion}`,
    targets: 'lab hosts (systemd-nspawn on this machine, Debian sid, bridge 10.231.0.0/24)',
    mxplay: `${git.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted changes in src/roles' : ''}, run from the esbuild bundle`,
  };
}

function report(blocks: Block[], info: Record<string, string>, notes: string[], reps: Record<Tool, number>, started: Date, site?: SiteResult): string {
  const date = started.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  return `# mxplay vs Ansible: measured

Measured ${date} by \`npm run bench\` (bench/run.ts).

| | |
| --- | --- |
${Object.entries(info).map(([k, v]) => `| ${k} | ${v} |`).join('\n')}
| load (1, 5, 15 min) | ${blocks.map((b) => `${b.hosts} host(s): ${b.loadBefore} before, ${b.loadAfter} after`).join('; ')} |

Workload, per host (${RESOURCE_COUNT} resources): ${DIRECTORIES.length} directories with modes, ${TEMPLATES.length} config
files rendered from templates, 1 line edit (Ansible \`lineinfile\`; mxplay has no line edit, so a \`file\` with the
whole content), ${PACKAGES.length} package presence checks (${PACKAGES.join(', ')}: already installed), 1 guarded command
(\`creates\`), 2 handlers (reload ssh; restart \`benchapp.service\`, a stand-in unit for the app that the set-up
installs; both run in the first run only). Ansible also gathers facts (its default). \`--check\` is run after \`-e ${CHANGED_VAR.name}=${CHANGED_VAR.value}\`: 4 changes per host (Ansible with \`--diff\`).

Seconds, whole process timed from outside (spawn to exit): median (min–max) of ${reps.mxplay} runs for mxplay,
${reps.ansible} for Ansible, ${reps.floor} for the floor, the three interleaved. First runs start from reset hosts.

${table(blocks)}

Where mxplay's time goes (medians of the same runs):

${splitTable(blocks)}

${site ? `The whole \`playbooks/site.yml\` (postgres, synapse, nginx; ${RESOURCES_NOTE}) on ${site.host}, converged once, then
${site.noop.length} no-op runs and ${site.check.length} \`--check\` runs, interleaved:

${siteTable(site)}

` : ''}Checked while measuring: every timed run exited 0 and reported the expected changes on every host
(first run ${WANT_CHANGES.first} + ${HANDLERS.length} handlers, no-op 0, \`--check\` ${WANT_CHANGES.check}, which Ansible counts with
the handler they notify); ${notes.join('; ')}.

## Reproduce

\`\`\`sh
npm install                  # also builds the bundle (the bench rebuilds it when src/ or roles/ is newer)
npm run bench                # as root: boots lab hosts bench1..bench5 (stopped at the end), installs
                             # ansible-core from bookworm if missing, ~20 min on a quiet machine
npm run bench -- --mxplay-reps 5 --ansible-reps 3 --floor-reps 5 --hosts 1,5   # the defaults
npm run bench -- --no-ansible --hosts 1      # mxplay and the floor only, ~1 min
npm run bench -- --report-only               # this file again from bench/results.json
npx tsx bench/gen-workload.ts                # after editing bench/workload.ts
\`\`\`

Files: \`bench/workload.ts\` (the workload), \`bench/gen-workload.ts\` (writes \`mxplay.yml\`, \`ansible.yml\` and
the 40 template pairs from it), \`bench/roles/benchconf/\` (mxplay role), \`bench/ansible-templates/\`,
\`bench/ansible.cfg\` (pipelining on, strict host keys against the lab's known_hosts), \`bench/floor.ts\`
(the floor), \`bench/results.json\` (every sample).
`;
}

// ---------------------------------------------------------------------------------------------

interface SiteResult {
  host: string;
  /** the first converge of postgres + synapse + nginx on a reset bench host (untimed in the ratios: apt) */
  firstS: number;
  firstChanged: number;
  noop: { ms: number; roundTrips: number; load1: number }[];
  check: { ms: number; roundTrips: number; load1: number }[];
}

/** The whole site.yml (postgres, synapse, nginx) of the lab inventory on one bench host: its no-op. */
async function measureSite(lab: LabFixture, host: string, work: string, reps: number): Promise<SiteResult> {
  const inv = await lab.writeInventory(join(work, 'site'), {
    mxplay_master_secret: 'bench-master-secret-0123456789',
    proxy_tls_self_signed: true,
    synapse_package_source: 'debian',
    synapse_server_name: `${host}.lab.test`,
    synapse_public_baseurl: `https://${host}.lab.test/`,
    synapse_admin_user: 'admin',
    synapse_admin_password: 'bench-admin-password',
  }, { matrix: [host], nginx: [host] });
  const args = (extra: string[]) => [BIN, 'run', join(ROOT, 'playbooks/site.yml'), '-i', inv, '--json', ...extra];
  const one = async (extra: string[], what: string) => {
    const load1 = loadavg()[0]!;
    const r = await timed(process.execPath, args(extra), { env: { ...process.env, NO_COLOR: '1' } });
    if (r.code !== 0) throw new RunFailed(`site.yml ${what} on ${host}: exit ${r.code}\n${tail(r.stderr + '\n' + r.stdout)}`);
    const j = JSON.parse(r.stdout) as { hosts: { changes: unknown[] }[]; results: { changed: number; roundTrips: number }[] };
    return { ms: r.ms, load1, changes: j.hosts[0]!.changes.length, changed: j.results[0]!.changed, roundTrips: j.results[0]!.roundTrips };
  };
  log(`site.yml: first converge of postgres, synapse and nginx on ${host} (apt)`);
  const first = await one(['--yes'], 'first run');
  const res: SiteResult = { host, firstS: first.ms / 1000, firstChanged: first.changed, noop: [], check: [] };
  for (let i = 0; i < reps; i++) {
    const n = await one(['--yes'], 'no-op');
    if (n.changes !== 0) throw new RunFailed(`site.yml no-op on ${host} planned ${n.changes} changes`);
    res.noop.push({ ms: n.ms, roundTrips: n.roundTrips, load1: n.load1 });
    const c = await one(['--check', '-e', 'synapse_max_upload_size=100M'], '--check');
    // Synapse's media fragment and nginx's body size limit both follow it.
    if (c.changes !== 2) throw new RunFailed(`site.yml --check after one var on ${host} planned ${c.changes} changes, want 2`);
    res.check.push({ ms: c.ms, roundTrips: c.roundTrips, load1: c.load1 });
    log(`site.yml no-op ${(n.ms / 1000).toFixed(3)} s, --check ${(c.ms / 1000).toFixed(3)} s`);
  }
  return res;
}

const RESOURCES_NOTE = 'the lab inventory\'s vars, Synapse on PostgreSQL behind nginx with TLS';

function siteTable(site: SiteResult): string {
  const f = (xs: { ms: number }[]) => {
    const s = xs.map((x) => x.ms / 1000);
    return `${median(s).toFixed(3)} (${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)})`;
  };
  const rt = (xs: { roundTrips: number }[]) => [...new Set(xs.map((x) => x.roundTrips))].join(', ');
  return [
    '| run | mxplay s | SSH round trips |',
    '| --- | ---: | :---: |',
    `| first run (${site.firstChanged} changes, apt installs included) | ${site.firstS.toFixed(1)} | – |`,
    `| no-op | ${f(site.noop)} | ${rt(site.noop)} |`,
    `| \`--check\` after \`-e synapse_max_upload_size=100M\` (2 changes: media fragment, nginx body limit) | ${f(site.check)} | ${rt(site.check)} |`,
  ].join('\n');
}

async function measureBlock(c: Ctx, reps: Record<Tool, number>): Promise<Block> {
  const n = c.hosts.length;
  const block: Block = { hosts: n, samples: [], rssKb: {}, loadBefore: uptime(), loadAfter: '' };
  const tools = (['mxplay', 'ansible', 'floor'] as Tool[]).filter((t) => reps[t] > 0);
  for (const kind of KINDS) {
    const rounds = Math.max(...tools.map((t) => reps[t]));
    for (let i = 0; i < rounds; i++) {
      // alternate the order, so that no tool always runs right after another's changes
      const order = i % 2 ? [...tools].reverse() : tools;
      for (const tool of order) {
        if (i >= reps[tool]) continue;
        if (kind === 'first') await reset(c);
        const load1 = loadavg()[0]!;
        const r = await runTool(tool, kind, c);
        if (kind === 'first') await settle(c);
        block.samples.push({ tool, kind, hosts: n, ms: r.ms, load1, ...(r.roundTrips ? { roundTrips: r.roundTrips, hostSeconds: r.hostSeconds } : {}) });
        log(`${n} host(s) ${kind.padEnd(5)} ${tool.padEnd(7)} ${(r.ms / 1000).toFixed(3)} s${r.roundTrips ? `  round trips ${r.roundTrips.join(',')}` : ''}  (load ${load1.toFixed(2)})`);
      }
    }
    // peak RSS, in a run of its own (GNU time around it), not among the timed ones
    if (kind === 'first') await reset(c);
    block.rssKb[kind] = await mxplayRss(c, kind);
    if (kind === 'first') await settle(c);
  }
  block.loadAfter = uptime();
  return block;
}

/** Our hosts that are gone: record removed or taken over, or no longer answering SSH. */
async function lostHosts(lab: LabFixture, names: string[]): Promise<string[]> {
  const owner = process.env.MXPLAY_LAB_OWNER ?? `run:${process.pid}`;
  const lost: string[] = [];
  for (const name of names) {
    let ours = false;
    try {
      ours = (JSON.parse(readFileSync(hostPaths(name).record, 'utf8')) as { owner?: string }).owner === owner;
    } catch {
      /* no record: gone */
    }
    if (!ours || (await lab.ssh(name, 'true', { connectTimeoutS: 3, timeoutMs: 10_000 })).code !== 0) lost.push(name);
  }
  return lost;
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      'mxplay-reps': { type: 'string', default: '5' },
      'ansible-reps': { type: 'string', default: '3' },
      'floor-reps': { type: 'string', default: '5' },
      hosts: { type: 'string', default: '1,5' },
      'no-ansible': { type: 'boolean', default: false },
      // skips converging postgres + synapse + nginx on bench1 for the site.yml no-op (~2 min of apt)
      'no-site': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      // re-renders RESULTS.md from results.json, measuring nothing
      'report-only': { type: 'boolean', default: false },
    },
  });
  if (o['report-only']) {
    const saved = JSON.parse(readFileSync(join(BENCH, 'results.json'), 'utf8')) as {
      started: string; info: Record<string, string>; reps: Record<Tool, number>; notes: string[]; incidents?: string[]; blocks: Block[]; site?: SiteResult;
    };
    writeFileSync(join(BENCH, 'RESULTS.md'), report(saved.blocks, saved.info, [...saved.notes, ...(saved.incidents ?? [])], saved.reps, new Date(saved.started), saved.site));
    log('wrote bench/RESULTS.md from bench/results.json');
    return;
  }
  const reps: Record<Tool, number> = {
    mxplay: Number(o['mxplay-reps']),
    ansible: o['no-ansible'] ? 0 : Number(o['ansible-reps']),
    floor: Number(o['floor-reps']),
  };
  const counts = o.hosts!.split(',').map(Number);
  if (counts.some((n) => !(n >= 1 && n <= NAMES.length))) throw new Error(`--hosts: 1..${NAMES.length}`);
  const started = new Date();
  log(`load ${uptime()}`);

  const ansibleVersion = reps.ansible ? await ensureAnsible() : '(not run)';
  await ensureBundle();
  const work = mkdtempSync(join(tmpdir(), 'mxplay-bench-'));
  // The floor's bundle must sit in the repo to resolve node-ssh; removed at the end.
  const outDir = join(BENCH, '.out');
  mkdirSync(outDir, { recursive: true });
  const floorBin = await bundleFloor(outDir);

  const names = NAMES.slice(0, Math.max(...counts));
  log(`booting lab hosts ${names.join(', ')}`);
  let lab: LabFixture | undefined;
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
  const incidents: string[] = [];
  try {
    let inv5 = '';
    const boot = async () => {
      // Other runs start and stop their hosts meanwhile; a boot that trips over one is tried again.
      for (let attempt = 1; ; attempt++) {
        try {
          lab = await labHosts(names);
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
          log(`booting failed (${(e as Error).message.split('\n')[0]}); trying again`);
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
      // Ansible's apt module needs python3-apt on the target (it would install it itself on the
      // first run); it is installed here, outside the timings, like python3 for every module.
      log('set-up: python3-apt for Ansible, the app unit, hosts reset');
      await Promise.all(
        names.map(async (h) => {
          const r = await lab!.ssh(h, `set -e\nDEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-apt >/dev/null\n${setupScript()}\n${resetScript()}`);
          if (r.code !== 0) throw new Error(`set-up of ${h}: exit ${r.code}: ${r.stderr}`);
        }),
      );
      inv5 = await lab.writeInventory(join(work, 'all'), {}, { bench: names });
    };
    const inventoryFor = (hosts: string[]) => {
      const dir = join(work, `inv${hosts.length}`);
      mkdirSync(dir, { recursive: true });
      const inv = parse(readFileSync(inv5, 'utf8')) as { all: { hosts: Record<string, unknown>; children: { bench: { hosts: Record<string, unknown> } } } };
      inv.all.hosts = Object.fromEntries(Object.entries(inv.all.hosts).filter(([h]) => hosts.includes(h)));
      inv.all.children.bench.hosts = Object.fromEntries(hosts.map((h) => [h, {}]));
      writeFileSync(join(dir, 'hosts.yml'), stringify(inv));
      return join(dir, 'hosts.yml');
    };
    const ctxFor = (hosts: string[]): Ctx => {
      const spec = join(work, `floor-${hosts.length}.json`);
      const specChanged = join(work, `floor-${hosts.length}-changed.json`);
      writeFileSync(spec, JSON.stringify(floorSpec(lab!, hosts, BENCH_VARS)));
      writeFileSync(specChanged, JSON.stringify(floorSpec(lab!, hosts, { ...BENCH_VARS, [CHANGED_VAR.name]: CHANGED_VAR.value })));
      return { lab: lab!, hosts, inventory: inventoryFor(hosts), floorBin, floorSpec: spec, floorSpecChanged: specChanged };
    };
    /** The lab is shared: if our hosts vanish mid-block (someone's `lab down`), boot fresh ones and repeat the block. */
    const onHosts = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await f();
        } catch (e) {
          const lost = await lostHosts(lab!, names);
          if (!lost.length || attempt >= 3) throw e;
          const msg = `${new Date().toISOString().slice(11, 16)} UTC: lab host(s) ${lost.join(', ')} were stopped by someone else during ${what}; it was repeated on freshly booted hosts`;
          log(msg);
          incidents.push(msg);
          await lab!.stop();
          await boot();
        }
      }
    };

    await boot();
    const notes = reps.ansible ? await onHosts('the cross-check', () => crossCheck(ctxFor(['bench1']))) : [];
    const blocks: Block[] = [];
    for (const n of counts) {
      const block = await onHosts(`the ${n}-host block`, () => measureBlock(ctxFor(names.slice(0, n)), reps));
      blocks.push(block);
      log(`\n${table([block])}`);
    }

    const info = await machine(ansibleVersion);
    const write = (site?: SiteResult) => {
      if (o['no-write']) return;
      writeFileSync(join(BENCH, 'RESULTS.md'), report(blocks, info, [...notes, ...incidents], reps, started, site));
      writeFileSync(join(BENCH, 'results.json'), `${JSON.stringify({ started, info, reps, notes, incidents, blocks, site }, null, 2)}\n`);
      log('wrote bench/RESULTS.md and bench/results.json');
    };
    // Written before the site.yml block too: its apt installs must not cost the comparison.
    write();
    const site = o['no-site'] ? undefined : await onHosts('the site.yml block', () => measureSite(lab!, names[0]!, work, reps.mxplay));
    process.stdout.write(`\n${table(blocks)}\n${site ? `\n${siteTable(site)}\n` : ''}`);
    if (site) write(site);
  } finally {
    await stop();
  }
}

await main();
