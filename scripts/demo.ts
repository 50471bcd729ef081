// `npm start`: the main job on the lab in one command, and what a user then sees from outside.
//
//   1. dist/ built if missing or older than src/, roles/ (node scripts/build.mjs)
//   2. the lab hosts of inventory/lab up (hosts already up are reused: test/lab's labUp)
//   3. `mxplay run site.yml -i lab --yes`, the real CLI, its output streamed
//   4. `mxplay verify site.yml -i lab`: what answers where, checked from this machine as users and
//      other servers meet it; then how to look, re-run and tear down. Exit 1 when the run or any
//      check failed.
//
// The hosts are left running: `npm run lab -- down` stops them.
import { execFile, spawn } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { defaultHost, MAX_DEFAULT_HOSTS } from '../test/lab/config.ts';
import { labUp } from '../test/lab/lab.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/mxplay.js');
export const PLAYBOOK = 'site.yml';
export const INVENTORY = 'lab';

// ---------------------------------------------------------------------------------------------
// What the inventory and the playbook say: hosts, their variables, the roles each one gets.

/** `mxplay inventory -i X --json`: every host with its groups and its variables (Jinja evaluated). */
export type InventoryJson = Record<string, { groups: string[]; vars: Record<string, unknown> }>;

export interface Play {
  name: string;
  hosts: string;
  roles: string[];
}

export interface HostView {
  name: string;
  ip: string;
  groups: string[];
  roles: string[];
  vars: Record<string, unknown>;
}

/** The plays of a playbook: their host pattern and role names. */
export function parsePlays(yamlText: string): Play[] {
  const doc = parse(yamlText) as unknown;
  if (!Array.isArray(doc)) throw new Error('the playbook is not a list of plays');
  return doc.map((p: Record<string, unknown>, i) => ({
    name: String(p.name ?? `play ${i + 1}`),
    hosts: String(p.hosts ?? ''),
    roles: ((p.roles as unknown[] | undefined) ?? []).map((r) =>
      typeof r === 'string' ? r : String((r as Record<string, unknown>).role ?? (r as Record<string, unknown>).name),
    ),
  }));
}

/** Hosts a pattern names: groups, host names and `all`, joined with `:` or `,`; `!x` leaves out,
 * `&x` intersects (as `mxplay run -l` reads them; globs are not needed here and match nothing). */
export function matchHosts(pattern: string, inv: InventoryJson): string[] {
  const all = Object.keys(inv);
  const of = (term: string) =>
    term === 'all' || term === '*' ? all : all.filter((h) => h === term || inv[h]!.groups.includes(term));
  let out = new Set<string>();
  const terms = pattern.split(/[:,]/).map((t) => t.trim()).filter(Boolean);
  for (const t of terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'))) for (const h of of(t)) out.add(h);
  for (const t of terms.filter((t) => t.startsWith('&'))) out = new Set([...out].filter((h) => of(t.slice(1)).includes(h)));
  for (const t of terms.filter((t) => t.startsWith('!'))) for (const h of of(t.slice(1))) out.delete(h);
  return all.filter((h) => out.has(h));
}

/** Every inventory host with the roles the playbook gives it, in inventory order. */
export function hostViews(inv: InventoryJson, plays: Play[]): HostView[] {
  return Object.entries(inv).map(([name, h]) => {
    const roles = new Set<string>();
    for (const p of plays) if (matchHosts(p.hosts, inv).includes(name)) p.roles.forEach((r) => roles.add(r));
    return { name, ip: String(h.vars.ansible_host ?? name), groups: h.groups, roles: [...roles], vars: h.vars };
  });
}

/** How many lab hosts `npm run lab -- up` must start for the inventory: lab1..labN, each at the
 * address test/lab gives it. Any other host is an error: the lab cannot start it. */
export function labHostCount(hosts: Array<{ name: string; ip: string }>): number {
  let count = 0;
  for (const h of hosts) {
    const n = Number(/^lab(\d+)$/.exec(h.name)?.[1]);
    if (!n || n > MAX_DEFAULT_HOSTS) throw new Error(`inventory host ${h.name} is not a lab host (lab1..lab${MAX_DEFAULT_HOSTS}): the lab cannot start it`);
    const want = defaultHost(n).ip;
    if (h.ip !== want) throw new Error(`inventory host ${h.name} has ansible_host ${h.ip}, but the lab starts it at ${want}`);
    count = Math.max(count, n);
  }
  if (count === 0) throw new Error('the inventory has no host');
  return count;
}

const str = (h: HostView, key: string): string | undefined => {
  const v = h.vars[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const PROXIES = ['nginx', 'apache'];

const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
export const shellLine = (argv: string[]) => argv.map(shellWord).join(' ');

/** How to look for yourself (curl by name, as `mxplay verify` asks; an SSH login; a browser), run
 * again, verify again and tear down: the commands, with this lab's names. */
export function nextSteps(hosts: HostView[]): string {
  const lines: string[] = ['Look for yourself:'];
  const proxy = hosts.find((h) => h.roles.some((r) => PROXIES.includes(r)) && str(h, 'synapse_public_baseurl'));
  if (proxy) {
    const u = new URL('_matrix/client/versions', str(proxy, 'synapse_public_baseurl'));
    const ca = str(proxy, 'mxplay_verify_ca_file');
    lines.push(`  ${shellLine(['curl', ...(ca ? ['--cacert', ca] : []), '--resolve', `${u.hostname}:443:${proxy.ip}`, u.href])}`);
    lines.push(`  in a browser on this machine: add "${proxy.ip} ${u.hostname}" to /etc/hosts${ca ? ` and trust ${ca}` : ''}, open ${u.href}`);
  }
  const ssh = proxy ?? hosts[0];
  if (ssh) {
    const key = str(ssh, 'ansible_ssh_private_key_file');
    const known = str(ssh, 'mxplay_known_hosts_file');
    lines.push(`  ${shellLine([
      'ssh', '-F', '/dev/null', ...(key ? ['-i', key, '-o', 'IdentitiesOnly=yes'] : []), '-o', 'StrictHostKeyChecking=yes',
      ...(known ? ['-o', `UserKnownHostsFile=${known}`] : []), `${str(ssh, 'ansible_user') ?? 'root'}@${ssh.ip}`,
    ])}`);
  }
  lines.push(
    'Run it again (nothing left to do: 0 changed), and check again from here:',
    `  npx mxplay run ${PLAYBOOK} -i ${INVENTORY}`,
    `  npx mxplay verify ${PLAYBOOK} -i ${INVENTORY}`,
    'Stop the lab hosts (those of other test runs still going are left alone):',
    '  npm run lab -- down',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The steps.

/** True when dist/ must be (re)built: missing, or older than a file it is built from. */
export function needsBuild(distMtimeMs: number | undefined, newestSource: { path: string; mtimeMs: number } | undefined): string | undefined {
  if (distMtimeMs === undefined) return 'dist/ is missing';
  if (newestSource && newestSource.mtimeMs > distMtimeMs) return `dist/ is older than ${newestSource.path}`;
  return undefined;
}

async function newestFile(paths: string[]): Promise<{ path: string; mtimeMs: number } | undefined> {
  let newest: { path: string; mtimeMs: number } | undefined;
  const visit = async (p: string): Promise<void> => {
    const s = await stat(p).catch(() => undefined);
    if (!s) return;
    if (s.isDirectory()) {
      for (const e of await readdir(p)) if (e !== 'node_modules' && !e.startsWith('.')) await visit(join(p, e));
    } else if (!newest || s.mtimeMs > newest.mtimeMs) {
      newest = { path: relative(ROOT, p), mtimeMs: s.mtimeMs };
    }
  };
  for (const p of paths) await visit(join(ROOT, p));
  return newest;
}

function runInherit(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

function mxplayJson(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(stderr.trim() || err.message));
      resolve(JSON.parse(stdout));
    });
  });
}

/** The playbook as the CLI resolves `site.yml`: ./site.yml, else playbooks/site.yml. */
function playbookPath(): string {
  const here = join(ROOT, PLAYBOOK);
  return existsSync(here) ? here : join(ROOT, 'playbooks', PLAYBOOK);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n: number, text: string) => console.log(`\n${bold(`==> ${n}/4 ${text}`)}`);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('npm start boots the lab (systemd-nspawn hosts on a bridge): it needs root, e.g. `sudo npm start`');
    return 1;
  }
  const t0 = performance.now();
  const times: Record<string, number> = {};
  console.log(
    `npm start: the lab hosts of inventory/${INVENTORY}, then mxplay run ${PLAYBOOK} -i ${INVENTORY} --yes on them, then checks from this machine\n` +
      '(the first time takes a few minutes: the base rootfs, then the apt installs through the lab cache; later runs seconds)',
  );

  step(1, 'build');
  const why = needsBuild(
    existsSync(join(ROOT, 'dist/mxplay.mjs')) ? statSync(join(ROOT, 'dist/mxplay.mjs')).mtimeMs : undefined,
    await newestFile(['src', 'roles', 'scripts/build.mjs', 'package-lock.json']),
  );
  if (why) {
    console.log(`${why}: node scripts/build.mjs`);
    const t = performance.now();
    if ((await runInherit([process.execPath, 'scripts/build.mjs'])) !== 0) throw new Error('the build failed (above)');
    times.build = performance.now() - t;
  } else {
    console.log('dist/ is up to date');
  }

  const inventory = (await mxplayJson(['inventory', '-i', INVENTORY, '--json'])) as InventoryJson;
  const plays = parsePlays(await readFile(playbookPath(), 'utf8'));
  const hosts = hostViews(inventory, plays);

  step(2, `lab hosts of inventory/${INVENTORY}`);
  let t = performance.now();
  const count = labHostCount(hosts);
  const { started, alreadyUp } = await labUp({ hosts: count });
  times.lab = performance.now() - t;
  console.log(`${started.length} started, ${alreadyUp.length} already up (${alreadyUp.join(', ') || 'none'}), in ${seconds(times.lab)}`);
  for (const h of hosts) console.log(`  ${h.name.padEnd(6)} ${h.ip.padEnd(13)} ${h.roles.join(', ') || '(no role in site.yml)'}`);

  const argv = [process.execPath, BIN, 'run', PLAYBOOK, '-i', INVENTORY, '--yes'];
  step(3, `converge: mxplay run ${PLAYBOOK} -i ${INVENTORY} --yes`);
  t = performance.now();
  const code = await runInherit(argv);
  times.converge = performance.now() - t;
  console.log(`mxplay run exited ${code} after ${seconds(times.converge)}`);

  step(4, `what answers where, checked from this machine: mxplay verify ${PLAYBOOK} -i ${INVENTORY}`);
  t = performance.now();
  const verified = await runInherit([process.execPath, BIN, 'verify', PLAYBOOK, '-i', INVENTORY]);
  times.verify = performance.now() - t;
  console.log(`\n${nextSteps(hosts)}`);
  const total = performance.now() - t0;
  console.log(`\nnpm start: ${seconds(total)} (${Object.entries(times).map(([k, v]) => `${k} ${seconds(v)}`).join(', ')})`);
  return code === 0 && verified === 0 ? 0 : 1;
}

const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (invoked === import.meta.url) {
  main().then(
    (c) => (process.exitCode = c),
    (e: unknown) => {
      console.error(`npm start: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
