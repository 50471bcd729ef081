// A PEP 503 "simple" Python package index, served over plain HTTP from the control machine on the
// lab bridge, as a private mirror would be: lab hosts have no route to PyPI, and Synapse's workers
// need txredisapi, which Debian does not package. The index is the folder ../shared/pypi/simple next
// to the repository (see its README.md):
//
//   const index = await pypiIndex();            // after labHosts(): the bridge has its address then
//   // on a lab host: pip install --index-url ${index.url} --trusted-host ${index.trustedHost} txredisapi
//   // (plain HTTP: without --trusted-host, pip ignores an index that is not on localhost)
//   await index.close();
//
//   /simple/            the project links (index.html when the folder has one, else generated)
//   /simple/NAME/       the project's files, likewise
//   /simple/NAME/FILE   the file itself, with its length
// A project folder is also found by its PEP 503 normalized name (Foo_Bar -> foo-bar); a folder
// asked for without its final slash is redirected to it, as pip expects.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_IP } from '../../lab/config.ts';
import { bridgeAddresses } from '../../lab/network.ts';

/**
 * ../shared/pypi/simple, next to the repository root, when the workplace has it; else the
 * repository's own copy of the same wheel (test/fixtures/pypi, see its README).
 */
const WORKPLACE_DIR = fileURLToPath(new URL('../../../../shared/pypi/simple', import.meta.url));
export const PYPI_SIMPLE_DIR = existsSync(WORKPLACE_DIR) ? WORKPLACE_DIR : fileURLToPath(new URL('../../fixtures/pypi/simple', import.meta.url));

export interface PypiIndex {
  /** The index URL for pip's --index-url, e.g. http://10.231.0.1:41234/simple/ */
  url: string;
  /** The index's host (no port), for pip's --trusted-host: pip ignores a plain-HTTP index that is not
   * on localhost ("not a trusted or secure host") unless told to trust it. */
  trustedHost: string;
  /** Every request served, as "METHOD /path STATUS", in order. */
  requests: string[];
  close(): Promise<void>;
}

export interface PypiIndexOptions {
  /** The folder served as /simple/ (default PYPI_SIMPLE_DIR). */
  dir?: string;
  /** The address to listen on (default the lab bridge's, GATEWAY_IP; it must be up). */
  host?: string;
}

export async function pypiIndex(opts: PypiIndexOptions = {}): Promise<PypiIndex> {
  const root = resolve(opts.dir ?? PYPI_SIMPLE_DIR);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new Error(`pypi index: no folder ${root} (the lab's Python package index, expected as ../shared/pypi/simple next to the repository; see its README.md)`);
  }
  const host = opts.host ?? GATEWAY_IP;
  if (!opts.host) {
    const addrs = (await bridgeAddresses()).map((a) => a.split('/')[0]);
    if (!addrs.includes(host)) {
      throw new Error(`pypi index: the lab bridge has no address ${host} (has ${addrs.join(', ') || 'none'}): start the lab hosts (labHosts) before the index`);
    }
  }

  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    serve(root, req, res).then(
      (status) => requests.push(`${req.method} ${req.url} ${status}`),
      (e: unknown) => {
        requests.push(`${req.method} ${req.url} 500`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
        else res.destroy();
      },
    );
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/simple/`,
    trustedHost: host,
    requests,
    close() {
      closed ??= new Promise<void>((ok) => {
        server.close(() => ok());
        // pip keeps its connections alive: end them, or close() would wait for them.
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}

/** PEP 503: runs of -, _ and . are one -, lower case. */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function contentType(file: string): string {
  if (file.endsWith('.html')) return 'text/html; charset=utf-8';
  if (file.endsWith('.whl') || file.endsWith('.zip')) return 'application/zip';
  if (file.endsWith('.tar.gz') || file.endsWith('.tgz')) return 'application/gzip';
  if (file.endsWith('.metadata')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/** Answers one request; resolves with the status sent. */
async function serve(root: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const send = (status: number, body: string | Buffer, headers: Record<string, string | number> = {}) => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': buf.length, ...headers });
    res.end(req.method === 'HEAD' ? undefined : buf);
    return status;
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET or HEAD only\n', { allow: 'GET, HEAD', 'content-type': 'text/plain' });

  const url = new URL(req.url ?? '/', 'http://index');
  let segments: string[];
  try {
    segments = url.pathname.split('/').map(decodeURIComponent);
  } catch {
    return send(400, 'bad path\n', { 'content-type': 'text/plain' });
  }
  // "/simple/a/b" -> ['', 'simple', 'a', 'b']; a trailing slash leaves a last ''.
  if (segments[1] !== 'simple') return send(404, 'not found: the index is /simple/\n', { 'content-type': 'text/plain' });
  const trailingSlash = url.pathname.endsWith('/');
  const parts = segments.slice(2).filter((s) => s !== '');
  if (parts.some((p) => p === '.' || p === '..' || p.includes('\0') || p.includes(sep))) return send(404, 'not found\n', { 'content-type': 'text/plain' });

  // The project folder: as named, else by its normalized name.
  if (parts.length >= 1 && !existsSync(join(root, parts[0]!))) {
    const want = normalizeProjectName(parts[0]!);
    const match = (await readdir(root, { withFileTypes: true })).find((e) => e.isDirectory() && normalizeProjectName(e.name) === want);
    if (match) parts[0] = match.name;
  }
  const path = join(root, ...parts);
  if (path !== root && !path.startsWith(root + sep)) return send(404, 'not found\n', { 'content-type': 'text/plain' });
  const st = await stat(path).catch(() => undefined);
  if (!st) return send(404, 'not found\n', { 'content-type': 'text/plain' });

  if (st.isDirectory()) {
    if (!trailingSlash) return send(301, '', { location: `${url.pathname}/${url.search}` });
    const index = join(path, 'index.html');
    if (existsSync(index)) return send(200, await readFile(index), { 'content-type': 'text/html; charset=utf-8' });
    const entries = (await readdir(path, { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
    const links: string[] = [];
    for (const e of entries) {
      if (parts.length === 0) {
        // The root lists projects (folders).
        if (e.isDirectory()) links.push(`<a href="${html(encodeURIComponent(e.name))}/">${html(e.name)}</a>`);
      } else if (e.isFile()) {
        const sha = createHash('sha256').update(await readFile(join(path, e.name))).digest('hex');
        links.push(`<a href="${html(encodeURIComponent(e.name))}#sha256=${sha}">${html(e.name)}</a>`);
      }
    }
    const title = parts.length ? `Links for ${html(parts[0]!)}` : 'Simple index';
    return send(200, `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>${title}</title></head><body>\n${links.join('<br>\n')}\n</body></html>\n`, {
      'content-type': 'text/html; charset=utf-8',
    });
  }
  if (!st.isFile()) return send(404, 'not found\n', { 'content-type': 'text/plain' });

  res.writeHead(200, { 'content-type': contentType(path), 'content-length': st.size });
  if (req.method === 'HEAD') {
    res.end();
    return 200;
  }
  await new Promise<void>((ok, fail) => {
    const stream = createReadStream(path);
    stream.on('error', fail);
    res.on('close', () => {
      stream.destroy();
      ok();
    });
    stream.pipe(res);
  });
  return 200;
}
