// Federation as another homeserver finds a server (the server-server API's "resolving server
// names"): an IP literal or an explicit port is used as is; otherwise /.well-known/matrix/server
// on the name may delegate to another host and port; without it, the name on port 8448. SRV records
// (the spec's later steps) are not looked up: the roles delegate with .well-known.
import { ask, isIpLiteral, type Reach } from './http.ts';
import { snippet } from './expect.ts';

export interface Delegation {
  /** host:port federation traffic goes to */
  target: string;
  how: string;
}

/** Splits host[:port]; IPv6 literals in brackets. */
export function splitHostPort(s: string): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`${JSON.stringify(s)} is not host[:port]`);
  return { host: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}) };
}

export async function delegation(serverName: string, reach: Reach): Promise<Delegation> {
  const { host, port } = splitHostPort(serverName);
  if (port !== undefined || isIpLiteral(host.replace(/^\[|\]$/g, ''))) return { target: `${host}:${port ?? 8448}`, how: 'the server name itself' };
  const url = `https://${host}/.well-known/matrix/server`;
  let a;
  try {
    a = await ask(url, reach);
  } catch (e) {
    throw new Error(`${url}: ${(e as Error).message}`);
  }
  if (a.status === 404) return { target: `${host}:8448`, how: 'no .well-known (404): port 8448' };
  if (a.status !== 200) throw new Error(`${url}: HTTP ${a.status}, wanted 200 (delegation) or 404 (none)${a.body ? `: ${snippet(a.body)}` : ''}`);
  const m = a.json?.['m.server'];
  if (typeof m !== 'string' || !m) throw new Error(`${url}: no "m.server" in ${snippet(a.body)}`);
  const d = splitHostPort(m);
  return { target: `${d.host}:${d.port ?? 8448}`, how: `.well-known → ${m}` };
}

/** Delegation, then the version and the signing keys through it, as a federating server asks them. */
export async function federationCheck(serverName: string, reach: Reach): Promise<string> {
  const d = await delegation(serverName, reach);
  const base = `https://${d.target}`;
  const version = await ask(`${base}/_matrix/federation/v1/version`, reach).catch((e: Error) => {
    throw new Error(`${d.how}: ${base}/_matrix/federation/v1/version: ${e.message}`);
  });
  const server = version.json?.server;
  if (version.status !== 200 || !server?.name) throw new Error(`${d.how}: ${base}/_matrix/federation/v1/version: HTTP ${version.status}: ${snippet(version.body)}`);
  const keys = await ask(`${base}/_matrix/key/v2/server`, reach);
  if (keys.status !== 200) throw new Error(`${d.how}: ${base}/_matrix/key/v2/server: HTTP ${keys.status}: ${snippet(keys.body)}`);
  if (keys.json?.server_name !== serverName) {
    throw new Error(`${d.how}: ${base} signs as ${JSON.stringify(keys.json?.server_name)}, not ${serverName}: federation would reject its keys`);
  }
  const ids = Object.keys(keys.json?.verify_keys ?? {});
  if (!ids.length) throw new Error(`${d.how}: ${base}/_matrix/key/v2/server publishes no verify_keys`);
  return `${d.how}: ${server.name} ${server.version ?? ''}, key ${ids.join(', ')}`.replace(/ ,/, ',');
}
