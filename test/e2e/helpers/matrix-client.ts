// A real Matrix client (matrix-js-sdk) talking to a lab homeserver by its public name over TLS:
// its requests go to the lab host's address (no DNS) and trust only the lab CA, as a client of
// that organisation would with the CA installed.
import { request } from 'node:https';
import { createClient, type MatrixClient } from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

// The SDK logs every request at debug level: only its warnings go to the test's output.
(logger as unknown as { setLevel(level: string): void }).setLevel('warn');

export interface LabEndpoint {
  /** https://matrix.example.test */
  baseUrl: string;
  /** address the base URL's host name resolves to */
  ip: string;
  /** PEM of the CA that signed the proxy's certificate */
  ca: string;
}

/** fetch() over node:https with a fixed address and CA, for matrix-js-sdk's fetchFn. */
export function labFetch(ep: LabEndpoint): typeof fetch {
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init.headers);
    const body = await bodyBytes(init.body);
    if (body) headers.set('content-length', String(body.length));
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(headers),
        ca: ep.ca,
        servername: url.hostname,
        lookup: (_h, opts, cb) => ((opts as { all?: boolean }).all ? (cb as any)(null, [{ address: ep.ip, family: 4 }]) : cb(null, ep.ip, 4)),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 0;
          resolve(new Response([204, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: h }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) req.destroy(signal.reason as Error);
        signal.addEventListener('abort', () => req.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
      }
      req.end(body);
    });
  };
}

async function bodyBytes(b: BodyInit | null | undefined): Promise<Buffer | undefined> {
  if (b === undefined || b === null) return undefined;
  if (typeof b === 'string') return Buffer.from(b);
  if (b instanceof ArrayBuffer) return Buffer.from(b);
  if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (b instanceof Blob) return Buffer.from(await b.arrayBuffer());
  throw new Error(`labFetch: unsupported body ${Object.prototype.toString.call(b)}`);
}

/** A logged-in matrix-js-sdk client of the lab homeserver. */
export async function loggedInClient(ep: LabEndpoint, user: string, password: string): Promise<MatrixClient> {
  const fetchFn = labFetch(ep);
  const anon = createClient({ baseUrl: ep.baseUrl, fetchFn });
  const r = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });
  return createClient({ baseUrl: ep.baseUrl, fetchFn, accessToken: r.access_token, userId: r.user_id, deviceId: r.device_id });
}
