// Pebble (Let's Encrypt's ACME test server, Debian package `pebble`) on the lab bridge, with
// pebble-challtestsrv as its only DNS: a test names which lab address each host name has, and
// Pebble validates HTTP-01 by asking port 80 there, as Let's Encrypt asks a public server.
//
// Debian's package ships no certificate for Pebble's own HTTPS (upstream's test/certs are left
// out), so each instance makes a CA of its own and a directory certificate for the bridge address.
// Clients (certbot on the hosts) must trust `directoryCaPem`; certificates Pebble issues chain to
// its root, made fresh at every start and read from its management API (`issuerRootPem`).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GATEWAY_IP } from '../../lab/index.ts';

const run = promisify(execFile);

export interface Pebble {
  /** ACME directory URL, reachable from lab hosts */
  directory: string;
  /** CA of the directory's HTTPS certificate (what certbot must trust) */
  directoryCaPem: string;
  /** Pebble's root CA: what its issued certificates chain to */
  issuerRootPem: string;
  /** Answer A queries for these names with this address (pebble-challtestsrv's mock DNS). */
  addA(names: string[], ip: string): Promise<void>;
  /** Output of both processes so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on the bridge address (asked of the kernel, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, GATEWAY_IP, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

function post(url: string, data: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(JSON.stringify(data));
  });
}

/** Polls until `ok` resolves true, or throws at the deadline with the last error. */
async function until(what: string, ok: () => Promise<boolean>, deadlineMs: number, log: () => string): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      if (await ok()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} not ready within ${deadlineMs} ms (${String(last ?? '')})\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPebble(): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'mxp-pebble-'));
  const procs: ChildProcess[] = [];
  let output = '';
  const log = () => output.slice(-6000);
  const stop = async () => {
    await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    })));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const f = (n: string) => join(dir, n);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
    await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=mxplay e2e Pebble directory CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
    await writeFile(f('ext'), `subjectAltName=IP:${GATEWAY_IP}\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    await run('openssl', ['req', '-new', ...ec, '-subj', `/CN=${GATEWAY_IP}`, '-keyout', f('key.pem'), '-out', f('csr')]);
    await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', '0x01',
      '-days', '2', '-extfile', f('ext'), '-out', f('cert.pem')]);
    const caPem = await readFile(f('ca.crt'), 'utf8');

    const [acmePort, mgmtPort, dnsPort, dnsMgmtPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    await writeFile(f('config.json'), JSON.stringify({
      pebble: {
        listenAddress: `${GATEWAY_IP}:${acmePort}`,
        managementListenAddress: `${GATEWAY_IP}:${mgmtPort}`,
        certificate: f('cert.pem'),
        privateKey: f('key.pem'),
        // Validation asks the hosts' real ports, as a public ACME server does.
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }));
    const start = (cmd: string, args: string[], env: Record<string, string> = {}) => {
      const p = spawn(cmd, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (d) => (output += `[${cmd}] ${d}`));
      p.stderr!.on('data', (d) => (output += `[${cmd}] ${d}`));
      procs.push(p);
      return p;
    };
    // Only the mock DNS: no default answers (an unknown name must not resolve anywhere).
    start('pebble-challtestsrv', [
      '-dns01', `${GATEWAY_IP}:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-management', `${GATEWAY_IP}:${dnsMgmtPort}`, '-defaultIPv4', '', '-defaultIPv6', '',
    ]);
    // No random sleeps before validations, no rejected nonces: fast and steady runs.
    start('pebble', ['-config', f('config.json'), '-dnsserver', `${GATEWAY_IP}:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });

    const directory = `https://${GATEWAY_IP}:${acmePort}/dir`;
    await until('pebble', async () => (await get(directory, caPem)).status === 200, 30_000, log);
    const dnsMgmt = `http://${GATEWAY_IP}:${dnsMgmtPort}`;
    await until('pebble-challtestsrv', async () => (await post(`${dnsMgmt}/clear-request-history`, { host: 'x', type: 'DNS' })) < 500, 30_000, log);
    const root = await get(`https://${GATEWAY_IP}:${mgmtPort}/roots/0`, caPem);
    if (root.status !== 200) throw new Error(`pebble /roots/0 answered ${root.status}: ${root.body}`);

    return {
      directory,
      directoryCaPem: caPem,
      issuerRootPem: root.body,
      async addA(names, ip) {
        for (const n of names) {
          const status = await post(`${dnsMgmt}/add-a`, { host: `${n}.`, addresses: [ip] });
          if (status !== 200) throw new Error(`pebble-challtestsrv add-a ${n}: HTTP ${status}`);
        }
      },
      log,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
