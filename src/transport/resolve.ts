// A host's connection completed with its effective ssh_config (ssh -G), when connecting: address,
// port, user, the keys to offer, the known_hosts files and the jump hosts on the way.
import { existsSync } from 'node:fs';
import { KEEPALIVE_DEFAULTS, type ConnectionParams, type Endpoint, type Keepalive } from './connection.ts';
import { effectiveSshConfig, expandTokens, jumpsOfProxyCommand, parseJumpList, serverAliveOf, type JumpSpec, type SshOptionMap } from './ssh-config.ts';

export interface ResolvedParams extends ConnectionParams {
  identityFiles: string[];
  /** Each with its own keep-alive. */
  jumps: (Endpoint & { keepalive: Keepalive })[];
  extraKnownHostsFiles: string[];
  keepalive: Keepalive;
}

const DEFAULT_KEEPALIVE: Keepalive = { ...KEEPALIVE_DEFAULTS, intervalFrom: 'default', countFrom: 'default' };

/**
 * The keep-alive of one hop: the inventory's mxplay_keepalive_* where given, else that hop's
 * ssh_config (ServerAliveInterval / ServerAliveCountMax, -o options included), else the defaults.
 */
function keepaliveOf(m: SshOptionMap, p: ConnectionParams, options: string[]): Keepalive {
  const base = p.keepalive ?? DEFAULT_KEEPALIVE;
  const c = serverAliveOf(m);
  const from = (keyword: string) => (options.some((o) => new RegExp(`^${keyword}\\s*[=\\s]`, 'i').test(o)) ? `-o ${keyword}` : `ssh_config ${keyword}`);
  const k = { ...base };
  if (!p.ssh?.keepaliveIntervalGiven && c.intervalS !== undefined) {
    k.intervalS = c.intervalS;
    k.intervalFrom = from('ServerAliveInterval');
  }
  if (!p.ssh?.keepaliveCountGiven && c.countMax !== undefined) {
    k.countMax = c.countMax;
    k.countFrom = from('ServerAliveCountMax');
  }
  return k;
}

const one = (m: SshOptionMap, k: string) => m.get(k)?.[0];
const words = (m: SshOptionMap, k: string) => (m.get(k) ?? []).flatMap((v) => v.split(/\s+/)).filter((f) => f && f !== 'none');
const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** An ssh_config problem of a host: the host fails with it (its other hosts go on). */
export class SshConfigError extends Error {}

function endpointOf(name: string, m: SshOptionMap, extraKeys: string[]): Endpoint & { globalKnownHosts: string[] } {
  const address = one(m, 'hostname') ?? name;
  const port = Number(one(m, 'port') ?? 22);
  const user = one(m, 'user') ?? process.env.USER ?? 'root';
  const hostKeyAlias = one(m, 'hostkeyalias');
  const t = { alias: name, hostname: address, user, port, ...(hostKeyAlias && hostKeyAlias !== 'none' ? { hostKeyAlias } : {}) };
  const ids = (m.get('identityfile') ?? []).map((f) => expandTokens(f, t));
  return {
    name,
    address,
    port,
    user,
    identityFiles: uniq([...extraKeys, ...ids].filter((f) => existsSync(f))),
    knownHostsFiles: words(m, 'userknownhostsfile').map((f) => expandTokens(f, t)),
    ...(t.hostKeyAlias ? { hostKeyAlias: t.hostKeyAlias } : {}),
    globalKnownHosts: words(m, 'globalknownhostsfile').map((f) => expandTokens(f, t)),
  };
}

function jumpSpecs(m: SshOptionMap): { specs: JumpSpec[]; key?: string } {
  const pj = one(m, 'proxyjump');
  if (pj && pj.toLowerCase() !== 'none') return { specs: parseJumpList(pj) };
  const pc = one(m, 'proxycommand');
  if (pc && pc.toLowerCase() !== 'none') {
    const r = jumpsOfProxyCommand(pc);
    return { specs: r.jumps, ...(r.identityFile ? { key: r.identityFile } : {}) };
  }
  return { specs: [] };
}

/**
 * Starts reading a host's ssh_config (ssh -G, on this machine; effectiveSshConfig keeps it) while
 * the caller does other work: resolveParams then finds it read, and reports its errors.
 */
export function readSshConfigAhead(p: ConnectionParams): void {
  if (p.connection === 'ssh') resolveParams(p).catch(() => {});
}

export async function resolveParams(p: ConnectionParams): Promise<ResolvedParams> {
  const q = p.ssh;
  if (!q) {
    const keepalive = p.keepalive ?? DEFAULT_KEEPALIVE;
    return {
      ...p,
      identityFiles: p.identityFiles ?? (p.privateKeyFile ? [p.privateKeyFile] : []),
      jumps: (p.jumps ?? []).map((j) => ({ ...j, keepalive: j.keepalive ?? keepalive })),
      extraKnownHostsFiles: p.extraKnownHostsFiles ?? [],
      keepalive,
    };
  }
  const explicit = p.privateKeyFile ? [p.privateKeyFile] : [];
  let m: SshOptionMap;
  try {
    m = await effectiveSshConfig(q.alias, {
      ...(q.user !== undefined ? { user: q.user } : {}),
      ...(q.port !== undefined ? { port: q.port } : {}),
      options: q.options,
      ...(q.configFile ? { configFile: q.configFile } : {}),
    });
  } catch (e) {
    throw new SshConfigError(`ssh_config of ${q.alias}: ${(e as Error).message}`);
  }
  const target = endpointOf(q.alias, m, explicit);
  let keepalive: Keepalive;
  try {
    keepalive = keepaliveOf(m, p, q.options);
  } catch (e) {
    throw new SshConfigError(`ssh_config of ${q.alias}: ${(e as Error).message}`);
  }
  let jumps: ResolvedParams['jumps'] = [];
  try {
    const { specs, key } = jumpSpecs(m);
    const keys = key ? [expandTokens(key, { alias: q.alias, hostname: target.address, user: target.user, port: target.port })] : [];
    jumps = await Promise.all(
      specs.map(async (s) => {
        const hm = await effectiveSshConfig(s.host, { ...(s.user ? { user: s.user } : {}), ...(s.port ? { port: s.port } : {}) });
        // The inventory's key is offered to the jump hosts too, after their own (the usual case: one key everywhere).
        const hop = endpointOf(s.host, hm, [...keys]);
        hop.identityFiles = uniq([...hop.identityFiles, ...explicit]);
        const { globalKnownHosts, ...e } = hop;
        return {
          ...e,
          knownHostsFiles: uniq([...(q.knownHostsGiven ? [p.knownHostsFile] : hop.knownHostsFiles), ...globalKnownHosts]),
          // Its own ssh_config's, as ssh's ProxyJump connection has (the -o options are the target's).
          keepalive: keepaliveOf(hm, p, []),
        };
      }),
    );
  } catch (e) {
    throw new SshConfigError(`jump host of ${p.name}: ${(e as Error).message}`);
  }
  const userFiles = q.knownHostsGiven ? [p.knownHostsFile] : target.knownHostsFiles.length ? target.knownHostsFiles : [p.knownHostsFile];
  const ct = one(m, 'connecttimeout');
  return {
    ...p,
    address: target.address,
    port: target.port,
    user: target.user,
    identityFiles: target.identityFiles,
    knownHostsFile: userFiles[0]!,
    extraKnownHostsFiles: uniq([...userFiles.slice(1), ...target.globalKnownHosts]),
    ...(target.hostKeyAlias ? { hostKeyAlias: target.hostKeyAlias } : {}),
    jumps,
    keepalive,
    ...(!q.timeoutGiven && ct && /^\d+$/.test(ct) ? { connectTimeoutMs: Number(ct) * 1000 } : {}),
  };
}
