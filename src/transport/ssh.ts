import { connect as tcpConnect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import { addHostKey, checkHostKey, keyTypeOf, knownHostsName } from './known-hosts.ts';
import { UnreachableError } from './errors.ts';
import { shellCommand, type Connection, type ConnectionParams, type ExecResult } from './connection.ts';


function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port });
    // Nagle's algorithm delays every small SSH packet: ~44 ms per round trip instead of ~1 ms.
    sock.setNoDelay(true);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new UnreachableError(`cannot connect to ${host}:${port}: timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new UnreachableError(`cannot connect to ${host}:${port}: ${e.code ?? e.message}`));
    });
  });
}

function defaultKey(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).find((p) => existsSync(p));
}

export async function sshConnect(p: ConnectionParams): Promise<Connection> {
  const sock = await openSocket(p.address, p.port, p.connectTimeoutMs);
  let keyProblem: string | undefined;
  const names = [knownHostsName(p.address, p.port), ...(p.name !== p.address ? [knownHostsName(p.name, p.port)] : [])];
  const hostVerifier = (blob: Buffer): boolean => {
    if (p.hostKeyChecking === 'off') return true;
    const type = keyTypeOf(blob);
    const verdict = checkHostKey(p.knownHostsFile, names, type, blob);
    if (verdict.kind === 'match') return true;
    if (verdict.kind === 'mismatch') {
      keyProblem = `HOST KEY MISMATCH: ${p.address} presents a different ${type} key than ${p.knownHostsFile}:${verdict.line}. It may have been reinstalled, or someone may be intercepting the connection. Refusing to connect; if the change is expected, remove the old entry (ssh-keygen -R ${names[0]} -f ${p.knownHostsFile}).`;
      return false;
    }
    if (p.hostKeyChecking === 'accept-new') {
      addHostKey(p.knownHostsFile, names[0]!, type, blob);
      return true;
    }
    keyProblem = `unknown host key for ${names[0]} (not in ${p.knownHostsFile}). Verify it and add it (ssh-keyscan), or run with --host-key-checking accept-new.`;
    return false;
  };
  const ssh = new NodeSSH();
  const key = p.privateKeyFile ?? defaultKey();
  try {
    await ssh.connect({
      sock,
      host: p.address,
      port: p.port,
      username: p.user,
      ...(key ? { privateKeyPath: key } : {}),
      ...(process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
      hostVerifier,
      readyTimeout: p.connectTimeoutMs,
      keepaliveInterval: 15000,
    });
  } catch (e) {
    sock.destroy();
    if (keyProblem) throw new UnreachableError(keyProblem);
    const msg = (e as Error).message;
    if (/authentication methods failed/i.test(msg)) {
      throw new UnreachableError(`authentication failed for ${p.user}@${p.address}${key ? ` with key ${key}` : ''}${process.env.SSH_AUTH_SOCK ? ' or ssh-agent' : ''}`);
    }
    throw new UnreachableError(`ssh to ${p.address}:${p.port} failed: ${msg}`);
  }

  let lost: Error | undefined;
  ssh.connection?.on('error', (e: Error) => (lost = e));
  ssh.connection?.on('close', () => (lost ??= new Error('connection closed')));
  const shell = shellCommand(p.user, p.become);
  let roundTrips = 0;
  return {
    host: p.name,
    get roundTrips() {
      return roundTrips;
    },
    async run(script: string): Promise<ExecResult> {
      if (lost) throw new UnreachableError(`connection to ${p.name} lost: ${lost.message}`);
      roundTrips++;
      try {
        const r = await ssh.execCommand(shell, { stdin: script, noTrim: true });
        if (r.code === null) throw new UnreachableError(`connection to ${p.name} lost${r.signal ? ` (signal ${r.signal})` : ''}`);
        return { code: r.code, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        if (e instanceof UnreachableError) throw e;
        throw new UnreachableError(`connection to ${p.name} lost: ${(e as Error).message}`);
      }
    },
    async close() {
      ssh.dispose();
    },
  };
}
