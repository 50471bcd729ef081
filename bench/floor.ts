// The floor: the least a converge of the bench workload can cost from this machine, for comparing
// mxplay against. Per host, in parallel: one SSH connection (node-ssh/ssh2 on a TCP_NODELAY
// socket, strict host key check against the lab's known_hosts), then
//   probe:  ONE exec that reads the state of every resource (one stat over all paths, one
//           sha256sum over all files, one dpkg-query for the packages, one getent for the users,
//           the command's guard) and
//           compares it with the wanted state: that is a no-op run, or a --check;
//   first:  the same probe, then ONE exec that writes every differing directory and file as a tar
//           stream on stdin (modes and owners from the archive), adds the missing users, runs the
//           guarded command if due and the handlers whose files changed: a first run.
// Templates are not rendered here: the harness renders them once (with ejs, like mxplay) and
// passes the wanted bytes in the spec file. Nothing else is loaded: no YAML, no planner, no UI.
//
//   node floor.mjs SPEC.json probe|first        (run.ts bundles this file with esbuild first)
// Prints one JSON line per host: { host, changes, roundTrips, ms }.
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { NodeSSH } from 'node-ssh';

export interface FloorFile {
  path: string;
  /** base64 of the wanted content */
  content: string;
  sha: string;
  mode: number;
  owner: string;
  group: string;
  notify?: string;
}

export interface FloorSpec {
  user: string;
  keyFile: string;
  knownHostsFile: string;
  dirs: { path: string; mode: number; owner: string; group: string }[];
  packages: string[];
  /** system users (useradd --system --shell SHELL NAME), the same on every host */
  users: { name: string; shell: string }[];
  command: { cmd: string; creates: string };
  /** handler name -> shell */
  handlers: Record<string, string>;
  hosts: { name: string; ip: string; files: FloorFile[] }[];
}

type Mode = 'probe' | 'first';

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port });
    sock.setNoDelay(true);
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

function knownKeys(file: string, name: string): Set<string> {
  const keys = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [names, , key] = line.trim().split(/\s+/);
    if (names && key && names.split(',').includes(name)) keys.add(key);
  }
  return keys;
}

function probeScript(spec: FloorSpec, files: FloorFile[]): string {
  const paths = [...spec.dirs.map((d) => d.path), ...files.map((f) => f.path)];
  return [
    `stat -c '%n|%F|%a|%U|%G' ${paths.map(q).join(' ')} 2>/dev/null`,
    'echo @@sha',
    `sha256sum ${files.map((f) => q(f.path)).join(' ')} 2>/dev/null`,
    'echo @@pkg',
    `dpkg-query -W -f='\${Package}|\${db:Status-Abbrev}\\n' ${spec.packages.map(q).join(' ')} 2>/dev/null`,
    'echo @@user',
    ...(spec.users.length ? [`getent passwd ${spec.users.map((u) => q(u.name)).join(' ')}`] : []),
    'echo @@guard',
    `[ -e ${q(spec.command.creates)} ] && echo done || echo todo`,
    '',
  ].join('\n');
}

interface Diff {
  dirs: FloorSpec['dirs'];
  files: FloorFile[];
  packages: string[];
  users: FloorSpec['users'];
  command: boolean;
}

function compare(spec: FloorSpec, files: FloorFile[], out: string): Diff {
  const [statPart = '', rest1 = ''] = out.split('@@sha\n');
  const [shaPart = '', rest2 = ''] = rest1.split('@@pkg\n');
  const [pkgPart = '', rest3 = ''] = rest2.split('@@user\n');
  const [userPart = '', guard = ''] = rest3.split('@@guard\n');
  const shells = new Map(userPart.split('\n').filter(Boolean).map((l) => {
    const f = l.split(':');
    return [f[0]!, f[6] ?? ''] as const;
  }));
  const stats = new Map<string, string[]>();
  for (const l of statPart.split('\n')) {
    const [n, ...f] = l.split('|');
    if (n) stats.set(n, f);
  }
  const shas = new Map<string, string>();
  for (const l of shaPart.split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(.*)$/.exec(l);
    if (m) shas.set(m[2]!, m[1]!);
  }
  const installed = new Set(
    pkgPart.split('\n').filter((l) => /^[^|]+\|.i/.test(l)).map((l) => l.split('|')[0]!),
  );
  const same = (path: string, type: string, mode: number, owner: string, group: string) => {
    const s = stats.get(path);
    return !!s && s[0] === type && parseInt(s[1]!, 8) === mode && s[2] === owner && s[3] === group;
  };
  return {
    dirs: spec.dirs.filter((d) => !same(d.path, 'directory', d.mode, d.owner, d.group)),
    files: files.filter((f) => shas.get(f.path) !== f.sha || !same(f.path, 'regular file', f.mode, f.owner, f.group)),
    packages: spec.packages.filter((p) => !installed.has(p)),
    users: spec.users.filter((u) => shells.get(u.name) !== u.shell),
    command: guard.trim() !== 'done',
  };
}

/** A ustar archive of directories and files, paths relative to /. */
function tar(entries: { path: string; mode: number; owner: string; group: string; data?: Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const dir = e.data === undefined;
    const name = e.path.replace(/^\//, '') + (dir ? '/' : '');
    h.write(name, 0, 100);
    h.write(oct(e.mode, 8), 100);
    h.write(oct(0, 8), 108);
    h.write(oct(0, 8), 116);
    h.write(oct(dir ? 0 : e.data!.length, 12), 124);
    h.write(oct(Math.floor(Date.now() / 1000), 12), 136);
    h.write('        ', 148);
    h.write(dir ? '5' : '0', 156);
    h.write('ustar\0' + '00', 257);
    h.write(e.owner, 265, 32);
    h.write(e.group, 297, 32);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(oct(sum, 7) + ' ', 148);
    blocks.push(h);
    if (!dir) {
      blocks.push(e.data!);
      const pad = (512 - (e.data!.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function converge(spec: FloorSpec, host: FloorSpec['hosts'][number], mode: Mode, key: Buffer) {
  const t0 = performance.now();
  const sock = await openSocket(host.ip, 22);
  const trusted = knownKeys(spec.knownHostsFile, host.ip);
  const ssh = new NodeSSH();
  await ssh.connect({
    sock,
    host: host.ip,
    username: spec.user,
    privateKey: key.toString('utf8'),
    hostVerifier: (blob: Buffer) => trusted.has(blob.toString('base64')),
    readyTimeout: 20_000,
  });
  let roundTrips = 1;
  const probe = await ssh.execCommand('/bin/sh -s', { stdin: probeScript(spec, host.files), noTrim: true });
  if (probe.code !== 0) throw new Error(`${host.name}: probe exit ${probe.code}: ${probe.stderr}`);
  const diff = compare(spec, host.files, probe.stdout);
  const changes = diff.dirs.length + diff.files.length + diff.packages.length + diff.users.length + (diff.command ? 1 : 0);
  if (mode === 'first' && changes > 0) {
    if (diff.packages.length) throw new Error(`${host.name}: the floor does not install packages (${diff.packages.join(' ')})`);
    const archive = tar([...diff.dirs, ...diff.files.map((f) => ({ ...f, data: Buffer.from(f.content, 'base64') }))]);
    const handlers = [...new Set(diff.files.flatMap((f) => (f.notify ? [f.notify] : [])))];
    const script = [
      'set -e',
      ...(diff.dirs.length + diff.files.length ? ['tar -x -p --same-owner -C /'] : []),
      ...diff.users.map((u) => `if getent passwd ${q(u.name)} >/dev/null; then usermod --shell ${q(u.shell)} ${q(u.name)}; else useradd --system --shell ${q(u.shell)} ${q(u.name)}; fi`),
      ...(diff.command ? [`[ -e ${q(spec.command.creates)} ] || { ${spec.command.cmd}; }`] : []),
      ...handlers.map((h) => spec.handlers[h]!),
    ].join('\n');
    roundTrips++;
    const r = await ssh.execCommand(`/bin/sh -c ${q(script)}`, { stdin: Readable.from([archive]) });
    if (r.code !== 0) throw new Error(`${host.name}: apply exit ${r.code}: ${r.stderr}`);
  }
  ssh.dispose();
  return { host: host.name, changes, roundTrips, ms: Math.round(performance.now() - t0) };
}

async function main() {
  const [specFile, mode] = process.argv.slice(2);
  if (!specFile || (mode !== 'probe' && mode !== 'first')) throw new Error('usage: floor SPEC.json probe|first');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as FloorSpec;
  const key = readFileSync(spec.keyFile);
  const results = await Promise.all(spec.hosts.map((h) => converge(spec, h, mode, key)));
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`floor: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
