// `npm start`: the main job on the lab in one command, and what a user then sees from outside.
//
//   1. dist/ built if missing or older than src/, roles/ (node scripts/build.mjs)
//   2. the lab hosts of inventory/lab up (hosts already up are reused: test/lab's labUp)
//   3. `mxplay run site.yml -i lab --yes`, the real CLI, its output streamed
//   4. checks from this machine, as a user would make them (curl by name with --resolve and the
//      lab CA, an SSH login, a STUN binding, ...), derived from which roles site.yml gives which
//      inventory host; printed as one table of what answered where, then how to look, re-run and
//      tear down. Exit 1 when the run or any check failed.
//
// The checks are one table (CHECKS) so that `mxplay verify` can replace them later. The hosts are
// left running: `npm run lab -- down` stops them.
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { defaultHost, hostPaths, MAX_DEFAULT_HOSTS } from '../test/lab/config.ts';
import { labUp } from '../test/lab/lab.ts';
import { parseCurlOutput, type HttpAnswer } from '../test/e2e/helpers/https.ts';

export { parseCurlOutput, type HttpAnswer };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/mxplay.js');
export const PLAYBOOK = 'site.yml';
export const INVENTORY = 'lab';
/** Where the nginx and apache roles put their lab CA (proxy_tls_self_signed). */
const SELF_SIGNED_CA = 'etc/ssl/mxplay-selfsigned/ca.crt';
const PROXIES = ['nginx', 'apache'];

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

const str = (h: HostView, key: string, fallback?: string): string | undefined => {
  const v = h.vars[key];
  return typeof v === 'string' && v !== '' ? v : fallback;
};
const num = (h: HostView, key: string, fallback: number): number => {
  const v = h.vars[key];
  return typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : fallback;
};
const bool = (h: HostView, key: string): boolean => h.vars[key] === true;
const has = (h: HostView, ...roles: string[]) => roles.some((r) => h.roles.includes(r));
const proxyOf = (h: HostView) => PROXIES.find((p) => h.roles.includes(p));

// ---------------------------------------------------------------------------------------------
// The checks: one table. Each rule makes at most one check per host it applies to.

export type Probe =
  | { kind: 'http'; url: string; ip: string; ca?: string; expect: (a: HttpAnswer) => string }
  | { kind: 'ssh'; ip: string; user: string; key?: string; knownHosts?: string }
  | { kind: 'stun'; ip: string; port: number }
  | { kind: 'tcp'; ip: string; port: number };

export interface Check {
  host: string;
  what: string;
  /** URL, user@host:port, host:port/udp: where it was asked */
  where: string;
  probe: Probe;
}

interface CheckRule {
  /** roles of the host that call for it ('*': every host) */
  roles: string[];
  what: string | ((h: HostView) => string);
  /** The probe for this host, or undefined when the host does not serve it. */
  probe: (h: HostView) => Probe | undefined;
}

/** The client API's virtual host, from synapse_public_baseurl (no default: the roles require it). */
const matrixUrl = (h: HostView) => {
  const u = str(h, 'synapse_public_baseurl');
  return u ? new URL(u) : undefined;
};

/** The proxy serves the .well-known documents on the Matrix host, and on the base domain
 * (synapse_server_name) when that is the same name or proxy_serve_base_domain is set. */
export function wellKnownHost(h: HostView): string | undefined {
  const m = matrixUrl(h);
  if (!m) return undefined;
  const base = str(h, 'synapse_server_name');
  return base && (base === m.hostname || bool(h, 'proxy_serve_base_domain')) ? base : m.hostname;
}

/** The CA that signs the host's certificate: the lab CA the proxy role made (read through the
 * host's root, mounted on this machine), or none: the system's CAs then. */
export const caOf = (h: HostView) => (bool(h, 'proxy_tls_self_signed') ? join(hostPaths(h.name).root, SELF_SIGNED_CA) : undefined);

const https = (h: HostView, url: string, expect: (a: HttpAnswer) => string): Probe => {
  const ca = caOf(h);
  return { kind: 'http', url, ip: h.ip, ...(ca ? { ca } : {}), expect };
};

export const CHECKS: readonly CheckRule[] = [
  {
    roles: ['*'],
    what: 'SSH login, host key checked',
    probe: (h) => ({
      kind: 'ssh',
      ip: h.ip,
      user: str(h, 'ansible_user', 'root')!,
      ...(str(h, 'ansible_ssh_private_key_file') ? { key: str(h, 'ansible_ssh_private_key_file') } : {}),
      ...(str(h, 'mxplay_known_hosts_file') ? { knownHosts: str(h, 'mxplay_known_hosts_file') } : {}),
    }),
  },
  {
    roles: PROXIES,
    what: (h) => `Matrix client API: Synapse via ${proxyOf(h)}`,
    probe: (h) => {
      const m = matrixUrl(h);
      return m && https(h, new URL('_matrix/client/versions', m).href, expectClientVersions);
    },
  },
  {
    roles: PROXIES,
    what: (h) => `federation API: Synapse via ${proxyOf(h)}`,
    probe: (h) => {
      const m = matrixUrl(h);
      const port = num(h, 'proxy_federation_port', 443);
      return m && https(h, `https://${m.hostname}${port === 443 ? '' : `:${port}`}/_matrix/federation/v1/version`, expectServerVersion);
    },
  },
  {
    roles: PROXIES,
    what: 'delegation: /.well-known/matrix/server',
    probe: (h) => {
      const host = wellKnownHost(h);
      const m = matrixUrl(h);
      const port = num(h, 'proxy_federation_port', 443);
      return host && m ? https(h, `https://${host}/.well-known/matrix/server`, expectWellKnownServer(`${m.hostname}:${port}`)) : undefined;
    },
  },
  {
    roles: PROXIES,
    what: 'client discovery: /.well-known/matrix/client',
    probe: (h) => {
      const host = wellKnownHost(h);
      const m = matrixUrl(h);
      return host && m ? https(h, `https://${host}/.well-known/matrix/client`, expectWellKnownClient(m.href.replace(/\/+$/, ''))) : undefined;
    },
  },
  {
    roles: PROXIES,
    what: 'plain http redirects to https',
    probe: (h) => {
      const m = matrixUrl(h);
      return m && { kind: 'http', url: `http://${m.hostname}/_matrix/client/versions`, ip: h.ip, expect: expectRedirect(`https://${m.hostname}/_matrix/client/versions`) };
    },
  },
  {
    roles: ['element_web'],
    what: 'Element web: its config.json',
    probe: (h) => {
      const d = str(h, 'element_domain');
      return d && proxyOf(h) ? https(h, `https://${d}/config.json`, expectElementConfig(str(h, 'synapse_public_baseurl'))) : undefined;
    },
  },
  {
    roles: ['synapse_admin'],
    what: 'synapse-admin',
    probe: (h) => {
      const d = str(h, 'synapse_admin_domain');
      return d && proxyOf(h) ? https(h, `https://${d}/`, expectAdminApp) : undefined;
    },
  },
  {
    roles: ['jitsi'],
    what: 'Jitsi Meet via the proxy',
    probe: (h) => {
      const d = str(h, 'jitsi_domain');
      return d && proxyOf(h) && bool(h, 'proxy_serve_jitsi') ? https(h, `https://${d}/`, expectStatus(200)) : undefined;
    },
  },
  {
    roles: ['coturn'],
    what: 'TURN server: STUN binding',
    probe: (h) => ({ kind: 'stun', ip: h.ip, port: num(h, 'coturn_listening_port', 3478) }),
  },
  {
    roles: ['postgres'],
    what: 'PostgreSQL (TCP, for other hosts)',
    // Only when it listens beyond the host itself (postgres_listen_addresses, default localhost).
    probe: (h) => {
      const listen = str(h, 'postgres_listen_addresses', 'localhost')!;
      return /^(localhost|127\.0\.0\.1|::1)(,\s*(localhost|127\.0\.0\.1|::1))*$/.test(listen)
        ? undefined
        : { kind: 'tcp', ip: h.ip, port: num(h, 'postgres_port', 5432) };
    },
  },
  {
    roles: ['redis'],
    what: 'Redis (TCP, for other hosts)',
    probe: (h) => {
      const binds = Array.isArray(h.vars.redis_bind_addresses) ? (h.vars.redis_bind_addresses as string[]) : ['127.0.0.1', '::1'];
      return binds.some((b) => !/^(127\.|::1$)/.test(b)) ? { kind: 'tcp', ip: h.ip, port: num(h, 'redis_port', 6379) } : undefined;
    },
  },
];

/** The checks for these hosts: per host (inventory order), in table order. */
export function planChecks(hosts: HostView[]): Check[] {
  const out: Check[] = [];
  for (const h of hosts) {
    for (const rule of CHECKS) {
      if (!rule.roles.includes('*') && !has(h, ...rule.roles)) continue;
      const probe = rule.probe(h);
      if (!probe) continue;
      out.push({ host: h.name, what: typeof rule.what === 'string' ? rule.what : rule.what(h), where: whereOf(probe), probe });
    }
  }
  return out;
}

function whereOf(p: Probe): string {
  switch (p.kind) {
    case 'http':
      return p.url;
    case 'ssh':
      return `${p.user}@${p.ip}:22`;
    case 'stun':
      return `${p.ip}:${p.port}/udp`;
    case 'tcp':
      return `${p.ip}:${p.port}`;
  }
}

// Expectations: each returns what it saw (for the table) or throws the reason.

/** A body in one short line: an HTML error page by its title. */
export const snippet = (s: string) => {
  const title = /<title>([^<]*)<\/title>/i.exec(s)?.[1];
  const one = (title ?? s).replace(/\s+/g, ' ').trim();
  return one.length > 70 ? `${one.slice(0, 69)}…` : one;
};

function want(a: HttpAnswer, status: number): void {
  if (a.status !== status) throw new Error(`HTTP ${a.status || '(none)'}, wanted ${status}${a.body ? `: ${snippet(a.body)}` : ''}`);
}

export function expectClientVersions(a: HttpAnswer): string {
  want(a, 200);
  const v = a.json?.versions;
  if (!Array.isArray(v) || v.length === 0) throw new Error(`200 but no "versions" list: ${snippet(a.body)}`);
  return `200, spec versions ${v[0]} … ${v[v.length - 1]}`;
}

export function expectServerVersion(a: HttpAnswer): string {
  want(a, 200);
  const s = a.json?.server;
  if (!s?.name) throw new Error(`200 but no "server" name: ${snippet(a.body)}`);
  return `200, ${s.name} ${s.version ?? ''}`.trim();
}

function wellKnown(a: HttpAnswer): any {
  want(a, 200);
  if (!/^application\/json\b/.test(a.headers['content-type'] ?? '')) throw new Error(`Content-Type ${a.headers['content-type'] ?? '(none)'}, wanted application/json`);
  if (a.json === undefined) throw new Error(`not JSON: ${snippet(a.body)}`);
  return a.json;
}

export const expectWellKnownServer = (server: string) => (a: HttpAnswer) => {
  const got = wellKnown(a)['m.server'];
  if (got !== server) throw new Error(`m.server is ${JSON.stringify(got)}, wanted ${server}`);
  return `200, m.server ${got}`;
};

export const expectWellKnownClient = (baseUrl: string) => (a: HttpAnswer) => {
  const got = wellKnown(a)['m.homeserver']?.base_url;
  if (got !== baseUrl) throw new Error(`m.homeserver.base_url is ${JSON.stringify(got)}, wanted ${baseUrl}`);
  return `200, base_url ${got}`;
};

export const expectRedirect = (location: string) => (a: HttpAnswer) => {
  if (a.status !== 301 && a.status !== 308) throw new Error(`HTTP ${a.status}, wanted a redirect (301)`);
  if (a.headers.location !== location) throw new Error(`${a.status} to ${a.headers.location}, wanted ${location}`);
  return `${a.status} → ${location}`;
};

export const expectElementConfig = (baseUrl: string | undefined) => (a: HttpAnswer) => {
  want(a, 200);
  const got = a.json?.default_server_config?.['m.homeserver']?.base_url;
  if (!got) throw new Error(`200 but no default_server_config: ${snippet(a.body)}`);
  if (baseUrl && got !== baseUrl.replace(/\/+$/, '')) throw new Error(`base_url is ${got}, wanted ${baseUrl.replace(/\/+$/, '')}`);
  return `200, homeserver ${got}`;
};

/** synapse-admin answers only to the networks the inventory allows: 403 from elsewhere is right. */
export function expectAdminApp(a: HttpAnswer): string {
  if (a.status === 403) return '403: this machine is not in synapse_admin_allow_networks (as configured)';
  want(a, 200);
  return '200';
}

export const expectStatus = (status: number) => (a: HttpAnswer) => {
  want(a, status);
  return String(status);
};

// ---------------------------------------------------------------------------------------------
// Running the checks: small functions, each what a user would type.

/** The curl command of an http probe: by name (SNI and Host) with --resolve to the host's address,
 * trusting only the lab CA when there is one. What the table's "how to look" prints, too. */
export function curlArgv(p: Extract<Probe, { kind: 'http' }>): string[] {
  const u = new URL(p.url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return ['curl', ...(p.ca ? ['--cacert', p.ca] : []), '--resolve', `${u.hostname}:${port}:${p.ip}`, p.url];
}

async function httpCheck(p: Extract<Probe, { kind: 'http' }>): Promise<string> {
  const [cmd, ...args] = curlArgv(p);
  const { stdout } = await execFileText(cmd!, ['-sS', '-i', '--max-time', '10', ...args]);
  return p.expect(parseCurlOutput(stdout));
}

export function sshArgvOf(p: Extract<Probe, { kind: 'ssh' }>): string[] {
  return [
    'ssh', '-F', '/dev/null',
    ...(p.key ? ['-i', p.key, '-o', 'IdentitiesOnly=yes'] : []),
    '-o', 'StrictHostKeyChecking=yes',
    ...(p.knownHosts ? ['-o', `UserKnownHostsFile=${p.knownHosts}`] : []),
    `${p.user}@${p.ip}`,
  ];
}

async function sshCheck(p: Extract<Probe, { kind: 'ssh' }>): Promise<string> {
  const [cmd, ...args] = sshArgvOf(p);
  const { stdout } = await execFileText(cmd!, [
    ...args.slice(0, -1), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', args[args.length - 1]!,
    '. /etc/os-release; echo "$(hostname), $PRETTY_NAME, systemd $(systemctl is-system-running)"',
  ]).catch((e: Error & { stdout?: string }) => {
    // is-system-running exits non-zero when degraded: still a login.
    if (e.stdout?.trim()) return { stdout: e.stdout };
    throw e;
  });
  return stdout.trim();
}

/** A STUN Binding request (RFC 5389) over UDP: what a WebRTC client asks a TURN server first. */
async function stunCheck(p: Extract<Probe, { kind: 'stun' }>): Promise<string> {
  const id = randomBytes(12);
  const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
  const sock = createSocket('udp4');
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      let tries = 0;
      const send = () => {
        if (tries++ === 3) return reject(new Error('no STUN answer in 3 s'));
        sock.send(request, p.port, p.ip);
        timer = setTimeout(send, 1000);
      };
      let timer = setTimeout(send, 0);
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on('message', (m) => {
        if (m.length >= 20 && m.subarray(8, 20).equals(id)) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    return describeStunAnswer(answer);
  } finally {
    sock.close();
  }
}

/** A Binding success response: the address the server saw us at (XOR-MAPPED-ADDRESS). */
export function describeStunAnswer(m: Buffer): string {
  const type = m.readUInt16BE(0);
  if (type !== 0x0101) throw new Error(`STUN answer of type 0x${type.toString(16)}, wanted a Binding success (0x0101)`);
  for (let i = 20; i + 4 <= m.length; ) {
    const attr = m.readUInt16BE(i);
    const len = m.readUInt16BE(i + 2);
    if (attr === 0x0020 && len >= 8 && m[i + 5] === 0x01) {
      const port = m.readUInt16BE(i + 6) ^ 0x2112;
      const ip = [0, 1, 2, 3].map((k) => m[i + 8 + k]! ^ [0x21, 0x12, 0xa4, 0x42][k]!).join('.');
      return `Binding answered: it sees this machine as ${ip}:${port}`;
    }
    i += 4 + len + ((4 - (len % 4)) % 4);
  }
  return 'Binding answered';
}

function tcpCheck(p: Extract<Probe, { kind: 'tcp' }>): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: p.ip, port: p.port, timeout: 3000 });
    s.on('connect', () => {
      s.destroy();
      resolve('accepts connections');
    });
    s.on('timeout', () => {
      s.destroy();
      reject(new Error('no answer in 3 s'));
    });
    s.on('error', reject);
  });
}

function execFileText(cmd: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 8 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(stderr.trim().split('\n').pop() || err.message) as Error & { stdout?: string };
        e.stdout = stdout;
        return reject(e);
      }
      resolve({ stdout });
    });
  });
}

export interface CheckResult extends Check {
  ok: boolean;
  /** what it saw, or why it failed */
  detail: string;
}

const PROBES: { [K in Probe['kind']]: (p: Extract<Probe, { kind: K }>) => Promise<string> } = {
  http: httpCheck,
  ssh: sshCheck,
  stun: stunCheck,
  tcp: tcpCheck,
};

/** One check, tried up to 3 times a second apart (a service restarted by the run's last handler
 * may still be coming up); the table says when it took more than one try. */
export async function runCheck(c: Check, tries = 3): Promise<CheckResult> {
  let last = '';
  for (let i = 1; i <= tries; i++) {
    try {
      const detail = await (PROBES[c.probe.kind] as (p: Probe) => Promise<string>)(c.probe);
      return { ...c, ok: true, detail: i > 1 ? `${detail} (on try ${i})` : detail };
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
      if (i < tries) await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { ...c, ok: false, detail: last };
}

// ---------------------------------------------------------------------------------------------
// Output.

/** The table of what answered where: result, host, what, where, detail (the reason when failed).
 * Columns padded to their widest cell; a long detail goes on the next line. */
export function formatTable(rows: CheckResult[], width = 160): string {
  const cells = rows.map((r) => [r.ok ? 'OK' : 'FAILED', r.host, r.what, r.where]);
  const head = ['', 'host', 'what', 'where'];
  const detailHead = 'answer, or why not';
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i]!)).join('  ');
  const out = [`${line(head)}  ${detailHead}`];
  rows.forEach((r, k) => {
    const left = line(cells[k]!);
    out.push(left.length + 2 + r.detail.length <= width ? `${left}  ${r.detail}` : `${left.trimEnd()}\n${' '.repeat(w[0]! + 2)}→ ${r.detail}`);
  });
  return out.join('\n');
}

const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
export const shellLine = (argv: string[]) => argv.map(shellWord).join(' ');

/** How to look for yourself, run again and tear down: the commands, with this lab's names. */
export function nextSteps(checks: Check[]): string {
  const lines: string[] = ['Look for yourself:'];
  const firstHttps = checks.find((c) => c.probe.kind === 'http' && c.probe.url.startsWith('https:'));
  const wellKnown = checks.find((c) => c.probe.kind === 'http' && c.probe.url.includes('/.well-known/matrix/client'));
  for (const c of [firstHttps, wellKnown]) if (c?.probe.kind === 'http') lines.push(`  ${shellLine(curlArgv(c.probe))}`);
  const ssh = checks.find((c) => c.probe.kind === 'ssh' && checks.some((d) => d.host === c.host && d.probe.kind === 'http'))
    ?? checks.find((c) => c.probe.kind === 'ssh');
  if (ssh?.probe.kind === 'ssh') lines.push(`  ${shellLine(sshArgvOf(ssh.probe))}`);
  const browser = checks.find((c) => c.probe.kind === 'http' && c.probe.url.startsWith('https:') && /Element|synapse-admin|Jitsi/.test(c.what));
  if (browser?.probe.kind === 'http') {
    const u = new URL(browser.probe.url);
    lines.push(
      `  in a browser on this machine: add "${browser.probe.ip} ${u.hostname}" to /etc/hosts${browser.probe.ca ? ` and trust ${browser.probe.ca}` : ''}, open https://${u.hostname}/`,
    );
  }
  lines.push(
    'Run it again (nothing left to do: 0 changed):',
    `  npx mxplay run ${PLAYBOOK} -i ${INVENTORY}`,
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

async function mxplayJson(args: string[]): Promise<unknown> {
  const { stdout } = await execFileText(process.execPath, [BIN, ...args]);
  return JSON.parse(stdout);
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

  step(4, 'what answers where, checked from this machine');
  t = performance.now();
  const checks = planChecks(hosts);
  const results = await Promise.all(checks.map((c) => runCheck(c)));
  times.checks = performance.now() - t;
  console.log(formatTable(results, process.stdout.columns || 160));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`\n${results.length - failed} of ${results.length} checks OK${failed ? `, ${failed} FAILED` : ''}; the run exited ${code}\n`);
  console.log(nextSteps(checks));
  const total = performance.now() - t0;
  console.log(`\nnpm start: ${seconds(total)} (${Object.entries(times).map(([k, v]) => `${k} ${seconds(v)}`).join(', ')})`);
  return code === 0 && failed === 0 ? 0 : 1;
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
