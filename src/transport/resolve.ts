// A host's connection completed with its effective ssh_config (ssh -G), when connecting: address,
// port, user, the keys to offer, the known_hosts files and the jump hosts on the way.
import { existsSync } from 'node:fs';
import type { ConnectionParams, Endpoint } from './connection.ts';
import { effectiveSshConfig, expandTokens, jumpsOfProxyCommand, parseJumpList, type JumpSpec, type SshOptionMap } from './ssh-config.ts';

export interface ResolvedParams extends ConnectionParams {
  identityFiles: string[];
  jumps: Endpoint[];
  extraKnownHostsFiles: string[];
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

export async function resolveParams(p: ConnectionParams): Promise<ResolvedParams> {
  const q = p.ssh;
  if (!q) {
    return { ...p, identityFiles: p.identityFiles ?? (p.privateKeyFile ? [p.privateKeyFile] : []), jumps: p.jumps ?? [], extraKnownHostsFiles: p.extraKnownHostsFiles ?? [] };
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
  let jumps: Endpoint[] = [];
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
    ...(!q.timeoutGiven && ct && /^\d+$/.test(ct) ? { connectTimeoutMs: Number(ct) * 1000 } : {}),
  };
}
