// Connections begun ahead of the run (src/transport/head-start.ts) against an in-process ssh2
// server that records every authentication attempt: the key exchange is done ahead, no method is
// tried before the connection is taken; given up, nothing is tried and the socket closes; dropped
// by the server while it waited, it is made again; a host key problem found ahead is the host's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { aheadCount, cancelAhead, startAhead, takeAhead } from '../../../src/transport/head-start.ts';
import { openConnection } from '../../../src/transport/open.ts';
import { AuthenticationFailed, UnreachableError } from '../../../src/transport/errors.ts';
import { localSshParams } from './local-params.ts';

interface ServerClient {
  on(ev: 'authentication', f: (ctx: { method: string; accept(): void; reject(m?: string[]): void }) => void): ServerClient;
  on(ev: 'handshake' | 'close' | 'error', f: (...a: unknown[]) => void): ServerClient;
}
interface Ssh2 {
  Server: new (cfg: { hostKeys: string[] }) => { injectSocket(s: Socket): void; on(ev: 'connection', f: (c: ServerClient) => void): void };
}
const { Server } = createRequire(import.meta.url)('ssh2') as Ssh2;

/** An ssh2 server that counts key exchanges, authentication attempts and closed connections. */
function countingSshd(hostKey: string) {
  const seen = { connections: 0, handshakes: 0, auths: 0, closed: 0, refuse: false };
  const open = new Set<Socket>();
  const ssh = new Server({ hostKeys: [hostKey] });
  ssh.on('connection', (client) => {
    client.on('error', () => {});
    client.on('handshake', () => seen.handshakes++);
    client.on('close', () => seen.closed++);
    client.on('authentication', (ctx) => {
      seen.auths++;
      if (ctx.method === 'publickey' && !seen.refuse) ctx.accept();
      else ctx.reject(['publickey']);
    });
  });
  const tcp: NetServer = createServer((sock) => {
    seen.connections++;
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    ssh.injectSocket(sock);
  });
  return {
    tcp,
    seen,
    /** Closes every connection now open, as sshd's LoginGraceTime does to one that never authenticates. */
    dropAll: () => open.forEach((s) => s.destroy()),
    stop: () => (open.forEach((s) => s.destroy()), new Promise<void>((r) => tcp.close(() => r()))),
  };
}

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('connections begun ahead of the run', () => {
  let dir: string;
  let sshd: ReturnType<typeof countingSshd>;
  let port: number;
  const params = (o = {}) => localSshParams(dir, 'h1', port, o);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mxp-head-start-'));
    for (const k of ['host_ed25519', 'id_ed25519']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    sshd = countingSshd(readFileSync(join(dir, 'host_ed25519'), 'utf8'));
    await new Promise<void>((r) => sshd.tcp.listen(0, '127.0.0.1', r));
    port = (sshd.tcp.address() as { port: number }).port;
    const pub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${pub}\n`);
    writeFileSync(join(dir, 'other_known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'id_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  });
  afterAll(async () => {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    vi.stubEnv('SSH_AUTH_SOCK', '');
    Object.assign(sshd.seen, { connections: 0, handshakes: 0, auths: 0, closed: 0, refuse: false });
  });
  afterEach(() => {
    cancelAhead();
    vi.unstubAllEnvs();
  });

  it('does the key exchange ahead and tries no key until the connection is taken; then it is the open connection', async () => {
    const p = params();
    startAhead(p);
    await until(() => sshd.seen.handshakes === 1, 'the key exchange');
    // Long enough for a client that did not wait to have sent its key.
    await new Promise((r) => setTimeout(r, 150));
    expect(sshd.seen.auths).toBe(0);
    const conn = await openConnection('h1', p);
    try {
      expect(sshd.seen.auths).toBeGreaterThan(0);
      expect(sshd.seen.connections).toBe(1); // the one begun ahead, not a second
      expect(aheadCount()).toBe(0);
    } finally {
      await conn.close();
    }
  });

  it('given up (an input error), it never authenticates and its connection closes', async () => {
    startAhead(params());
    await until(() => sshd.seen.handshakes === 1, 'the key exchange');
    cancelAhead();
    await until(() => sshd.seen.closed === 1, 'the connection to close');
    expect(sshd.seen.auths).toBe(0);
    expect(aheadCount()).toBe(0);
  });

  it('given up before its key exchange, it never gets that far', async () => {
    startAhead(params());
    cancelAhead();
    await new Promise((r) => setTimeout(r, 200));
    expect(sshd.seen.handshakes).toBe(0);
    expect(sshd.seen.auths).toBe(0);
  });

  it('dropped by the server while it waited, it is simply made again when taken', async () => {
    const p = params();
    startAhead(p);
    await until(() => sshd.seen.handshakes === 1, 'the key exchange');
    sshd.dropAll();
    await until(() => sshd.seen.closed === 1, 'the server to drop it');
    const conn = await openConnection('h1', p);
    await conn.close();
    // The one dropped and a new one, authenticated (the test server runs no commands: being open is what counts).
    expect(sshd.seen.connections).toBe(2);
    expect(sshd.seen.auths).toBeGreaterThan(0);
  });

  it('a host key that does not match, found ahead, is the host\'s error when taken (no key was offered)', async () => {
    const p = params({ knownHostsFile: join(dir, 'other_known_hosts') });
    startAhead(p);
    await expect(takeAhead(p)).rejects.toThrow(UnreachableError);
    await expect(Promise.resolve().then(() => takeAhead(p))).resolves.toBeUndefined(); // taken once only
    expect(sshd.seen.auths).toBe(0);
  });

  it('authentication refused is the host\'s error, never tried on a second connection', async () => {
    sshd.seen.refuse = true;
    const p = params();
    startAhead(p);
    await expect(openConnection('h1', p)).rejects.toThrow(AuthenticationFailed);
    expect(sshd.seen.connections).toBe(1);
  });

  it("its TCP connection, begun before ssh_config was read, is the one used when ssh_config keeps the inventory's address", async () => {
    const p = params({ privateKeyFile: join(dir, 'id_ed25519'), ssh: { alias: '127.0.0.1', port, user: 'root', options: [], configFile: '/dev/null', knownHostsGiven: true, timeoutGiven: true } });
    startAhead(p);
    const conn = await openConnection('h1', p);
    try {
      expect(sshd.seen.connections).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('one that ssh_config sends elsewhere is closed unused: the host is reached where ssh_config says', async () => {
    const p = params({ privateKeyFile: join(dir, 'id_ed25519'), ssh: { alias: '127.0.0.1', user: 'root', options: ['Port=1'], configFile: '/dev/null', knownHostsGiven: true, timeoutGiven: true } });
    startAhead(p);
    await expect(openConnection('h1', p)).rejects.toThrow(/127\.0\.0\.1:1\b/);
    await until(() => sshd.seen.closed === 1, 'the early connection to close');
    expect(sshd.seen.auths).toBe(0);
  });

  it('only the very params object is taken: a reconnect (a copy) connects afresh', async () => {
    const p = params();
    startAhead(p);
    expect(await takeAhead({ ...p })).toBeUndefined();
    expect(aheadCount()).toBe(1);
  });
});
