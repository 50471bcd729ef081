import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { HttpAnswer } from './check.ts';

/** How a check reaches a name: the address to connect to, and the CAs to trust (undefined: Node's). */
export interface Reach {
  address(name: string): Promise<string>;
  ca?: string[];
  timeoutMs: number;
}

/** Bodies above this are cut: a check reads small JSON documents and error pages. */
const MAX_BODY = 1 << 20;

/**
 * One request by name: connected to the address `reach` gives, with the name in SNI, in the
 * certificate check and in Host, as a browser that resolved it would send it. No redirect followed.
 */
export async function ask(url: string, reach: Reach, o: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const u = new URL(url);
  const name = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const address = await reach.address(name);
  const https = u.protocol === 'https:';
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)({
      host: address,
      port: u.port || (https ? 443 : 80),
      path: `${u.pathname}${u.search}`,
      method: o.method ?? 'GET',
      headers: {
        host: u.host,
        accept: 'application/json, */*',
        ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
        ...o.headers,
      },
      ...(https ? { servername: isIpLiteral(name) ? undefined : name, ...(reach.ca ? { ca: reach.ca } : {}) } : {}),
      timeout: reach.timeoutMs,
      agent: false,
    }, (res) => collect(res).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`no answer in ${reach.timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(new Error(connectionProblem(e, url, address))));
    req.end(payload);
  });
}

function collect(res: IncomingMessage): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < MAX_BODY) chunks.push(c);
      size += c.length;
    });
    res.on('error', reject);
    res.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v[v.length - 1]! : v;
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, headers, body, ...(json !== undefined ? { json } : {}) });
    });
  });
}

/** An address, not a name: no DNS, no SNI. */
export const isIpLiteral = (name: string) => isIP(name) !== 0;

/** A failed connection in the words of what broke: refused, TLS trust, name on the certificate. */
function connectionProblem(e: NodeJS.ErrnoException, url: string, address: string): string {
  const at = new URL(url).host;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused at ${address} (${at}): nothing listens there`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${address} (${at}) is unreachable from this machine`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `TLS: ${at}'s certificate is not signed by a trusted CA (${e.code}); a private or lab CA: set mxplay_verify_ca_file`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS: ${at}'s certificate does not name ${new URL(url).hostname}`;
    case 'CERT_HAS_EXPIRED':
      return `TLS: ${at}'s certificate has expired`;
    default:
      return e.message;
  }
}
