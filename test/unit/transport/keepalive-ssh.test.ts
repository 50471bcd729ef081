// sshConnect's keep-alives against an in-process ssh2 server reached through a TCP relay whose link
// can be cut silently (bytes dropped both ways, no FIN, no RST: a cable pulled, a host frozen):
// a command far longer than interval × count completes (the server answers keep-alives while it
// runs); a cut link makes the host unreachable after the count, with the reason, and at -v; a jump
// host's own settings apply to its hop; interval 0 waits on. Small intervals, real timers.
// (test/e2e/failures.e2e.test.ts does the same against OpenSSH's sshd on lab hosts.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeLog, configureLog } from '../../../src/log.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import type { Connection, ConnectionParams, Endpoint, ExecResult, Keepalive } from '../../../src/transport/connection.ts';
import { UnreachableError } from '../../../src/transport/errors.ts';
import { sshConnect } from '../../../src/transport/ssh.ts';
import { capture } from '../log/capture.ts';
import { localSshParams } from './local-params.ts';

type Exec = Duplex & { exit(code: number): void };
interface ServerClient {
  on(ev: 'authentication', f: (ctx: { method: string; accept(): void; reject(m?: string[]): void }) => void): ServerClient;
  on(ev: 'session', f: (accept: () => { on(ev: 'exec', f: (accept: () => Exec) => void): void }) => void): ServerClient;
  on(ev: 'tcpip', f: (accept: () => Duplex, reject: () => void, info: { destIP: string; destPort: number }) => void): ServerClient;
  on(ev: 'ready' | 'error', f: (...a: unknown[]) => void): ServerClient;
}
interface Ssh2 {
  Server: new (cfg: { hostKeys: string[]; debug?: (m: string) => void }) => { injectSocket(s: Socket): void; on(ev: 'connection', f: (c: ServerClient) => void): void };
}
const { Server } = createRequire(import.meta.url)('ssh2') as Ssh2;

/**
 * An ssh2 server whose exec runs "scripts" of the form `sleep MS`: it answers `done` and exit 0
 * after MS, saying nothing before (a silent long command). It forwards direct-tcpip (a jump host).
 */
function fakeSshd(hostKey: string) {
  const seen = { keepalives: 0 };
  const ssh = new Server({ hostKeys: [hostKey], debug: (m) => void (m.includes('Inbound: GLOBAL_REQUEST (keepalive@openssh.com)') && seen.keepalives++) });
  const open = new Set<Socket>();
  ssh.on('connection', (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        const ch = acceptExec();
        let script = '';
        ch.on('data', (d: Buffer) => (script += d));
        ch.on('error', () => {});
        ch.on('end', () => {
          const ms = Number(/sleep (\d+)/.exec(script)?.[1] ?? 0);
          setTimeout(() => {
            ch.write('done\n');
            ch.exit(0);
            ch.end();
          }, ms);
        });
      });
    });
    client.on('tcpip', (accept, _reject, info) => {
      const ch = accept();
      const s = connect(info.destPort, info.destIP);
      s.on('error', () => ch.destroy());
      ch.on('error', () => s.destroy());
      ch.pipe(s).pipe(ch);
    });
  });
  const tcp: NetServer = createServer((sock) => {
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    ssh.injectSocket(sock);
  });
  return { tcp, seen, stop: () => (open.forEach((s) => s.destroy()), new Promise<void>((r) => tcp.close(() => r()))) };
}

/** A TCP relay to `port` whose links can be cut: from then on every byte is dropped, both ways, and nothing is closed. */
function cuttableRelay(port: number) {
  const links = new Set<{ cut: boolean; a: Socket; b: Socket }>();
  const tcp = createServer((a) => {
    const b = connect(port, '127.0.0.1');
    const link = { cut: false, a, b };
    links.add(link);
    a.on('data', (d) => link.cut || b.write(d));
    b.on('data', (d) => link.cut || a.write(d));
    const end = () => (a.destroy(), b.destroy(), links.delete(link));
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
  });
  return {
    tcp,
    cut: () => links.forEach((l) => (l.cut = true)),
    stop: () => (links.forEach((l) => (l.a.destroy(), l.b.destroy())), new Promise<void>((r) => tcp.close(() => r()))),
  };
}

const listen = async (s: NetServer) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
};
const ka = (intervalS: number, countMax: number): Keepalive => ({ intervalS, countMax, intervalFrom: 'mxplay_keepalive_interval', countFrom: 'mxplay_keepalive_count' });

describe('keep-alives on a live connection and a cut one', () => {
  let dir: string;
  let sshd: ReturnType<typeof fakeSshd>;
  let relay: ReturnType<typeof cuttableRelay>;
  let sshPort: number;
  let relayPort: number;
  let conn: Connection | undefined;
  const keyFile = () => join(dir, 'id_ed25519');
  const endpoint = (name: string, port: number): Endpoint => ({ name, address: '127.0.0.1', port, user: 'root', identityFiles: [keyFile()], knownHostsFiles: [join(dir, 'known_hosts')] });
  const params = (keepalive: Keepalive, o: Partial<ConnectionParams> = {}): ConnectionParams => localSshParams(dir, 'h1', relayPort, { keepalive, ...o });
  /** Runs `sleep ms` on the host; resolves with the time it took and what it gave. */
  const timed = async (c: Connection, ms: number) => {
    const t0 = Date.now();
    const r: { ok?: ExecResult; err?: Error } = await c.run(`sleep ${ms}\n`).then(
      (v) => ({ ok: v }),
      (e: unknown) => ({ err: e as Error }),
    );
    return { ...r, ms: Date.now() - t0 };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mxp-keepalive-'));
    // ssh-keygen's keys: ssh2's own generator makes one its parser refuses about once in 256
    // (mscdex/ssh2#1513: it strips a public key's leading zero byte).
    for (const k of ['host_ed25519', 'id_ed25519']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    const hostKey = { private: readFileSync(join(dir, 'host_ed25519'), 'utf8'), public: readFileSync(join(dir, 'host_ed25519.pub'), 'utf8') };
    sshd = fakeSshd(hostKey.private);
    sshPort = await listen(sshd.tcp);
    relay = cuttableRelay(sshPort);
    relayPort = await listen(relay.tcp);
    const pub = hostKey.public.split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${sshPort} ${pub}\n[127.0.0.1]:${relayPort} ${pub}\n`);
  });
  afterAll(async () => {
    try {
      await relay.stop();
      await sshd.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  beforeEach(() => vi.stubEnv('SSH_AUTH_SOCK', ''));
  afterEach(async () => {
    await conn?.close();
    conn = undefined;
    await relay.stop().then(async () => (relay = cuttableRelay(sshPort), await new Promise<void>((r) => relay.tcp.listen(relayPort, '127.0.0.1', r))));
    vi.unstubAllEnvs();
    closeLog();
  });

  it('a silent command 10 times longer than interval × count completes: the keep-alives are answered meanwhile', async () => {
    conn = await sshConnect(params(ka(0.05, 2)));
    const before = sshd.seen.keepalives;
    const r = await timed(conn, 1000);
    expect(r).toMatchObject({ ok: { code: 0, stdout: 'done\n' } });
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    // One every 50 ms while it ran (timers on a busy machine may skip some).
    expect(sshd.seen.keepalives - before).toBeGreaterThanOrEqual(10);
  });

  it('a link cut during a command: unreachable after the count of unanswered keep-alives, saying so, at -v too', async () => {
    const out = capture();
    configureLog({ verbosity: 1, secrets: new SecretRegistry(), stream: out.stream });
    conn = await sshConnect(params(ka(0.1, 2)));
    const running = timed(conn, 60_000);
    await new Promise((r) => setTimeout(r, 250));
    relay.cut();
    const r = await running;
    const detectedMs = r.ms - 250;
    expect(r.err).toBeInstanceOf(UnreachableError);
    expect(r.err?.message).toBe('connection to h1 lost: no answer to 2 keep-alives in 0.2 s');
    // The last answer came at most one interval before the cut; ssh2 gives up one interval after the last unanswered one.
    expect(detectedMs).toBeGreaterThanOrEqual(150);
    expect(detectedMs).toBeLessThan(3000);
    expect(out.text()).toContain('[h1] h1: no answer to 2 keep-alives in 0.2 s (keep-alive every 0.1 s (mxplay_keepalive_interval), unreachable after 2 unanswered (mxplay_keepalive_count): a dead or silent host is noticed in 0.2-0.3 s): connection dropped');
    // Anything after: at once, with the same reason.
    await expect(conn.run('sleep 0\n')).rejects.toThrow('connection to h1 lost: no answer to 2 keep-alives in 0.2 s');
  });

  it('a cut link to the jump host: its own keep-alive gives up first, and names it', async () => {
    const jump = { ...endpoint('gw', relayPort), keepalive: ka(0.05, 1) };
    conn = await sshConnect(params(ka(0.5, 3), { port: sshPort, jumps: [jump] }));
    expect(await timed(conn, 300)).toMatchObject({ ok: { code: 0 } });
    const running = timed(conn, 60_000);
    await new Promise((r) => setTimeout(r, 100));
    relay.cut();
    const r = await running;
    expect(r.err?.message).toBe('connection to h1 lost: jump host gw: no answer to 1 keep-alive in 0.05 s');
    expect(r.ms - 100).toBeLessThan(1400); // before the target's own (1.5 s)
  });

  it('interval 0: no keep-alives, a cut link is not noticed by them', async () => {
    conn = await sshConnect(params(ka(0, 3)));
    const running = timed(conn, 60_000);
    relay.cut();
    const first = await Promise.race([running.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still waiting'), 800))]);
    expect(first).toBe('still waiting');
    await conn.close();
    conn = undefined;
    expect((await running).err?.message).toMatch(/^connection to h1 lost/);
  });
});
