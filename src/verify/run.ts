import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { UserError } from '../errors.ts';
import type { HostCheck, Probe } from './check.ts';
import { federationCheck } from './federation.ts';
import { ask, type Reach } from './http.ts';
import { passwordLogin } from './login.ts';
import { resolver, type ResolveMode } from './resolve.ts';
import { stunBinding } from './stun.ts';
import { tcpConnect } from './tcp.ts';

/** One host's checks and how to reach what they name. */
export interface VerifyTarget {
  host: string;
  /** The host's inventory address (ansible_host): where its TCP and STUN checks go. */
  address: string;
  resolve: ResolveMode;
  /** A CA bundle on this machine trusted besides Node's own (a private or lab CA). */
  caFile?: string;
  checks: HostCheck[];
}

export interface VerifyResult {
  host: string;
  role: string;
  what: string;
  /** the URL, address or name asked */
  where: string;
  ok: boolean;
  /** what it answered, or what broke */
  detail: string;
  ms: number;
}

const TIMEOUT_MS = 10_000;
/** Checks asked at once: enough for dozens of hosts, few enough not to look like an attack. */
const AT_ONCE = 8;

function whereOf(p: Probe, address: string): string {
  switch (p.kind) {
    case 'http': return p.url;
    case 'stun': return `${address}:${p.port}/udp`;
    case 'tcp': return `${address}:${p.port}`;
    case 'federation': return `${p.serverName} (federation)`;
    case 'login': return `${p.baseUrl} as ${p.user}`;
  }
}

function answer(p: Probe, address: string, reach: Reach): Promise<string> {
  switch (p.kind) {
    case 'http': return ask(p.url, reach, { ...(p.method ? { method: p.method } : {}), ...(p.body !== undefined ? { body: p.body } : {}) }).then(p.expect);
    case 'stun': return stunBinding(address, p.port);
    case 'tcp': return tcpConnect(address, p.port, reach.timeoutMs);
    case 'federation': return federationCheck(p.serverName, reach);
    case 'login': return passwordLogin(p.baseUrl, p.user, p.password, reach);
  }
}

/** Names a host serves, from its own checks' URLs (those left out by tags too): where `inventory`
 * resolution sends them. */
export function servedNames(targets: VerifyTarget[]): Map<string, string> {
  const served = new Map<string, string>();
  for (const t of targets) {
    for (const c of t.checks) {
      const url = c.probe.kind === 'http' ? c.probe.url : undefined;
      if (!url) continue;
      const name = new URL(url).hostname.toLowerCase();
      if (!served.has(name)) served.set(name, t.address);
    }
  }
  return served;
}

function trustedCas(t: VerifyTarget): string[] | undefined {
  if (!t.caFile) return undefined;
  try {
    return [...rootCertificates, readFileSync(t.caFile, 'utf8')];
  } catch (e) {
    throw new UserError(`mxplay_verify_ca_file: cannot read ${t.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { host: t.host, key: 'mxplay_verify_ca_file' });
  }
}

/** Every check of every host, a few at once; results in host order, then check order. */
export async function verifyTargets(targets: VerifyTarget[], o: { timeoutMs?: number } = {}): Promise<VerifyResult[]> {
  const served = servedNames(targets);
  const jobs = targets.flatMap((t) => {
    const ca = trustedCas(t);
    const reach: Reach = { address: resolver(t.resolve, served), timeoutMs: o.timeoutMs ?? TIMEOUT_MS, ...(ca ? { ca } : {}) };
    return t.checks.filter((c) => c.selected).map((c) => async (): Promise<VerifyResult> => {
      const t0 = Date.now();
      const base = { host: t.host, role: c.role, what: c.what, where: whereOf(c.probe, t.address) };
      try {
        return { ...base, ok: true, detail: await answer(c.probe, t.address, reach), ms: Date.now() - t0 };
      } catch (e) {
        return { ...base, ok: false, detail: e instanceof Error ? e.message : String(e), ms: Date.now() - t0 };
      }
    });
  });
  const results: VerifyResult[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}
