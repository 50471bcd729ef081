// HTTP(S) requests from the control machine to a lab host under a public-looking name, with curl:
// `--resolve` puts the name in SNI and Host without any DNS, `--cacert` trusts only the lab CA.
import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  status: number;
  /** Lower-case header names; the last value wins. */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: any;
}

export interface CurlOptions {
  /** Address the URL's host name resolves to. */
  ip: string;
  /** CA file trusted for https:// (nothing else is). */
  ca?: string;
  method?: string;
  headers?: Record<string, string>;
  /** A local file sent as the request body. */
  dataFile?: string;
  timeoutS?: number;
}

/** One request, redirects not followed; rejects only when curl itself fails (refused, TLS, timeout). */
export function curl(url: string, o: CurlOptions): Promise<HttpAnswer> {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const args = [
    '-sS', '-i', '--max-time', String(o.timeoutS ?? 15),
    '--resolve', `${u.hostname}:${port}:${o.ip}`,
    '-H', 'Expect:',
    ...(o.ca ? ['--cacert', o.ca] : []),
    ...(o.method ? ['-X', o.method] : []),
    ...Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    ...(o.dataFile ? ['--data-binary', `@${o.dataFile}`] : []),
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl ${url}: ${stderr.trim() || err.message}`));
      resolve(parseCurlOutput(stdout));
    });
  });
}

/** `curl -i` output: the last response's status line and headers, then the body. */
export function parseCurlOutput(stdout: string): HttpAnswer {
  const cut = stdout.indexOf('\r\n\r\n');
  const head = cut < 0 ? stdout : stdout.slice(0, cut);
  const body = cut < 0 ? '' : stdout.slice(cut + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine?.split(' ')[1]) || 0, headers, body, ...(json === undefined ? {} : { json }) };
}

export interface JsonAnswer {
  status: number;
  json: any;
  text: string;
}

/**
 * One request through a lab host's proxy by name (SNI and Host), trusting only `ca`: JSON, or raw
 * bytes as application/octet-stream, with an optional access token. What a Matrix client sends.
 */
export function httpsByName(
  ip: string,
  ca: string,
  name: string,
  path: string,
  init: { method?: string; token?: string; body?: unknown; raw?: Buffer; timeoutMs?: number } = {},
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const body = init.raw ?? (init.body !== undefined ? Buffer.from(JSON.stringify(init.body)) : undefined);
    const timeoutMs = init.timeoutMs ?? 15_000;
    const req = httpsRequest({
      host: ip, port: 443, path, servername: name, ca, method: init.method ?? (body ? 'POST' : 'GET'), timeout: timeoutMs,
      headers: {
        host: name,
        ...(init.raw ? { 'content-type': 'application/octet-stream' } : body ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`https ${name}${path}: no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}
