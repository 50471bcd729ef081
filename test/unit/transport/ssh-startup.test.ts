// sshConnect under a server that behaves like sshd's MaxStartups, on fake sockets: an in-process
// ssh2 server behind a gate that counts the connections not yet authenticated and closes (or
// resets) new ones at once past its limit, before any identification line. Checks the wiring of
// src/transport/startup.ts into ssh.ts with ssh2's real errors: pacing per endpoint, retries
// reported on the connection and at -v, nothing else retried.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeLog, configureLog } from '../../../src/log.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import type { ConnectionParams } from '../../../src/transport/connection.ts';
import { UnreachableError } from '../../../src/transport/errors.ts';
import { sshConnect } from '../../../src/transport/ssh.ts';
import { connectRetriesOf, STARTUPS_PER_ENDPOINT } from '../../../src/transport/startup.ts';
import { capture } from '../log/capture.ts';
import { localSshParams } from './local-params.ts';

interface AuthCtx {
  method: string;
  accept(): void;
  reject(methods?: string[]): void;
}
interface ServerClient {
  on(ev: 'authentication', f: (ctx: AuthCtx) => void): ServerClient;
  on(ev: 'tcpip', f: (accept: () => Duplex, reject: () => void, info: { destIP: string; destPort: number }) => void): ServerClient;
  on(ev: 'ready' | 'close' | 'error', f: (...a: unknown[]) => void): ServerClient;
}
interface Ssh2 {
  Server: new (cfg: { hostKeys: Buffer[] }) => { injectSocket(s: Socket): void; on(ev: 'connection', f: (c: ServerClient, info: { port: number }) => void): void };
}
const { Server } = createRequire(import.meta.url)('ssh2') as Ssh2;

/** A MaxStartups-like gate in front of an ssh2 server; `limit` and `drop` may change between tests. */
function gatedServer(hostKey: Buffer) {
  const g = { limit: Infinity, drop: 'close' as 'close' | 'reset', acceptAuth: true, unauthenticated: 0, peak: 0, accepted: 0, dropped: 0 };
  const ssh = new Server({ hostKeys: [hostKey] });
  const done = new Map<number, () => void>();
  const open = new Set<Socket>();
  ssh.on('connection', (client, info) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => (g.acceptAuth && ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => done.get(info.port)?.());
    // As a jump host: `ssh -W` (direct-tcpip) to any address, this gate included.
    client.on('tcpip', (accept, _reject, to) => {
      const up = connect(to.destPort, to.destIP);
      const ch = accept();
      up.on('error', () => ch.destroy());
      ch.on('error', () => up.destroy());
      ch.pipe(up).pipe(ch);
    });
  });
  const tcp: NetServer = createServer((sock) => {
    if (g.unauthenticated >= g.limit) {
      g.dropped++;
      // sshd past MaxStartups: closed before its identification line.
      if (g.drop === 'reset') sock.resetAndDestroy();
      else sock.destroy();
      return;
    }
    g.accepted++;
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    g.peak = Math.max(g.peak, ++g.unauthenticated);
    let counted = true;
    const leave = () => {
      if (counted) g.unauthenticated--;
      counted = false;
    };
    done.set(sock.remotePort!, leave);
    sock.once('close', leave);
    ssh.injectSocket(sock);
  });
  const stop = () => {
    for (const s of open) s.destroy();
    return new Promise<void>((r) => tcp.close(() => r()));
  };
  return { g, tcp, stop };
}

describe('sshConnect against a server with MaxStartups', () => {
  let dir: string;
  let port: number;
  let server: ReturnType<typeof gatedServer>;
  /** A second one, as the bastion of the jump test. */
  let bastionServer: ReturnType<typeof gatedServer>;
  let bastionPort: number;
  const keyFile = () => join(dir, 'id_ed25519');
  const params = (name: string): ConnectionParams => localSshParams(dir, name, port);
  const many = (n: number) => Promise.allSettled(Array.from({ length: n }, (_, i) => sshConnect(params(`h${i + 1}`))));

  beforeAll(async () => {
    // Not tempDir(): that one is removed after each test, these files serve them all.
    dir = mkdtempSync(join(tmpdir(), 'mxp-startups-'));
    // ssh-keygen's keys (ssh2's own generator now and then makes one its parser refuses).
    for (const k of ['host_ed25519', 'id_ed25519']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    server = gatedServer(readFileSync(join(dir, 'host_ed25519')));
    bastionServer = gatedServer(readFileSync(join(dir, 'host_ed25519')));
    const listen = async (x: ReturnType<typeof gatedServer>) => {
      await new Promise<void>((r) => x.tcp.listen(0, '127.0.0.1', r));
      return (x.tcp.address() as { port: number }).port;
    };
    port = await listen(server);
    bastionPort = await listen(bastionServer);
    const pub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${pub}\n[127.0.0.1]:${bastionPort} ${pub}\n`);
  });
  afterAll(async () => {
    try {
      await server.stop();
      await bastionServer.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  beforeEach(() => {
    vi.stubEnv('SSH_AUTH_SOCK', '');
    Object.assign(server.g, { limit: Infinity, drop: 'close', acceptAuth: true, unauthenticated: 0, peak: 0, accepted: 0, dropped: 0 });
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    closeLog();
  });

  it(`paces the set-up: 20 hosts at once on one sshd, at most ${STARTUPS_PER_ENDPOINT} unauthenticated at a time, no retry`, async () => {
    const rs = await many(20);
    const conns = rs.map((r) => (r.status === 'fulfilled' ? r.value : expect.fail(String(r.reason))));
    expect(server.g.peak).toBeLessThanOrEqual(STARTUPS_PER_ENDPOINT);
    expect(server.g.peak).toBeGreaterThan(1);
    expect(conns.map((c) => c.connectRetries)).toEqual(Array(20).fill(0));
    await Promise.all(conns.map((c) => c.close()));
  });

  it.each(['close', 'reset'] as const)('MaxStartups 2 (%s before the banner): every host connects, the refusals retried and reported at -v', async (drop) => {
    Object.assign(server.g, { limit: 2, drop });
    const out = capture();
    configureLog({ verbosity: 1, secrets: new SecretRegistry(), stream: out.stream });
    const rs = await many(12);
    const conns = rs.map((r) => (r.status === 'fulfilled' ? r.value : expect.fail(String(r.reason))));
    const retries = conns.reduce((n, c) => n + c.connectRetries, 0);
    expect(server.g.dropped).toBeGreaterThan(0);
    expect(retries).toBe(server.g.dropped);
    expect(server.g.peak).toBe(2);
    const lines = out.text().split('\n').filter((l) => l.includes('retry'));
    expect(lines).toHaveLength(retries);
    for (const l of lines) expect(l).toMatch(new RegExp(`^\\[h\\d+\\] connection refused by 127\\.0\\.0\\.1:${port} before the handshake \\(sshd MaxStartups\\?\\): retry \\d in \\d\\.\\d s$`));
    await Promise.all(conns.map((c) => c.close()));
  });

  it('through a jump host, MaxStartups 2 at the bastion, then at the target: each hop retried, and named', async () => {
    const bastion = { name: 'bastion', address: '127.0.0.1', port: bastionPort, user: 'root', identityFiles: [keyFile()], knownHostsFiles: [join(dir, 'known_hosts')] };
    const line = (label: string, at: number) => new RegExp(`^\\[(h\\d)\\] ${label}connection refused by 127\\.0\\.0\\.1:${at} before the handshake \\(sshd MaxStartups\\?\\): retry \\d in \\d\\.\\d s$`, 'gm');
    for (const at of ['bastion', 'target'] as const) {
      Object.assign(server.g, { limit: at === 'target' ? 2 : Infinity, dropped: 0 });
      Object.assign(bastionServer.g, { limit: at === 'bastion' ? 2 : Infinity, dropped: 0 });
      const out = capture();
      configureLog({ verbosity: 1, secrets: new SecretRegistry(), stream: out.stream });
      const rs = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => sshConnect({ ...params(`h${i + 1}`), jumps: [bastion] })));
      const conns = rs.map((r) => (r.status === 'fulfilled' ? r.value : expect.fail(String(r.reason))));
      const retries = conns.reduce((n, c) => n + c.connectRetries, 0);
      expect(retries, at).toBe((at === 'bastion' ? bastionServer : server).g.dropped);
      expect(retries, at).toBeGreaterThan(0);
      const lines = out.text().match(at === 'bastion' ? line('jump host bastion: ', bastionPort) : line('\\1 \\(through bastion\\): ', port)) ?? [];
      expect(lines, out.text()).toHaveLength(retries);
      await Promise.all(conns.map((c) => c.close()));
    }
  });

  it('an authentication failure is not retried', async () => {
    server.g.acceptAuth = false;
    const e = await sshConnect(params('h1')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnreachableError);
    expect((e as Error).message).toMatch(/^authentication failed for root@127\.0\.0\.1:\d+: tried key /);
    expect(connectRetriesOf(e)).toBe(0);
    expect(server.g.accepted).toBe(1);
  });

  it('nothing listening (TCP refused) is not retried', async () => {
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const closedPort = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    const t0 = Date.now();
    const e = await sshConnect({ ...params('h1'), port: closedPort }).catch((x: unknown) => x);
    expect((e as Error).message).toBe(`cannot connect to 127.0.0.1:${closedPort}: ECONNREFUSED`);
    expect(connectRetriesOf(e)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
