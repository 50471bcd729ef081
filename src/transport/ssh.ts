import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import { addHostKey, checkHostKeyIn, keyTypeOf, knownHostsName } from './known-hosts.ts';
import { AuthenticationFailed, UnreachableError } from './errors.ts';
import { endpointKey, RefusedBeforeHandshake, refusedBeforeHandshake, setUpPaced } from './startup.ts';
import { BecomeError, becomeFailureMessage, becomeOutcome, becomePlan, drive, type Proc, type ProcEvents } from './become.ts';
import { loadKey } from './keys.ts';
import { destroyOnAbort, openSocket } from './tcp.ts';
import { resolveParams, type ResolvedParams } from './resolve.ts';
import type { Connection, ConnectionParams, Endpoint, ExecResult, Keepalive } from './connection.ts';
import { logs, since, verbose } from '../log.ts';

/** A host key's fingerprint as OpenSSH prints it (ssh-keygen -l): SHA256:<base64, unpadded>. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** What ssh2 reports once a hop's key exchange is done (its 'handshake' event). */
interface Negotiated {
  kex?: string;
  serverHostKey?: string;
  cs?: { cipher?: string; mac?: string; compress?: string };
  sc?: { cipher?: string; mac?: string; compress?: string };
}

/** The algorithms of a hop, for -vvv: one line. */
export function describeNegotiated(n: Negotiated): string {
  const dir = (d: Negotiated['cs']) => {
    if (!d) return '?';
    // An AEAD cipher (chacha20-poly1305, aes-gcm) has no separate MAC.
    const mac = d.mac && d.mac !== '' ? ` ${d.mac}` : '';
    return `${d.cipher ?? '?'}${mac}${d.compress && d.compress !== 'none' ? ` ${d.compress}` : ''}`;
  };
  return `kex ${n.kex ?? '?'}, host key ${n.serverHostKey ?? '?'}, client→server ${dir(n.cs)}, server→client ${dir(n.sc)}`;
}

/** A TCP stream to host:port opened by the jump host's sshd (what `ssh -W` / ProxyJump does). */
function forwardThrough(jump: NodeSSH, jumpName: string, host: string, port: number, timeoutMs: number, logHost: string): Promise<Duplex> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new UnreachableError(`jump host ${jumpName} could not open a connection to ${host}:${port}: timed out after ${timeoutMs / 1000}s`)), timeoutMs);
    jump.connection!.forwardOut('127.0.0.1', 0, host, port, (err: Error | undefined, stream: Duplex) => {
      clearTimeout(timer);
      if (err) reject(new UnreachableError(`jump host ${jumpName} could not open a connection to ${host}:${port}: ${err.message}`));
      else {
        verbose(3, logHost, () => `jump host ${jumpName}: forwarded a connection to ${host}:${port} (as ssh -W) in ${since(t0)}`);
        resolve(stream);
      }
    });
  });
}

interface HopAuth {
  password?: string | undefined;
  /** Authentication waits for it (head-start.ts): true goes on, false gives up without trying any method. */
  gate?: AuthGate | undefined;
}

/** What a connection begun ahead of its run waits for before it authenticates. */
export interface AuthGate {
  /** Resolves true once the connection is wanted, false if it never will be. */
  readonly go: Promise<boolean>;
  /** Called when the key exchange is done and authentication starts waiting for `go`. */
  waiting(): void;
}

/** Connecting ahead of the run (head-start.ts): the first hop's authentication held, the attempt abortable. */
export interface ConnectOptions {
  gate?: AuthGate;
  signal?: AbortSignal;
  /** A TCP connection to the inventory's address and port, begun before ssh_config was read. */
  early?: Promise<Socket>;
}

/** Host key verdict of one hop, checked as OpenSSH does (user files, then global ones). */
function hostVerifier(hop: Endpoint, extraFiles: string[], checking: ConnectionParams['hostKeyChecking'], problem: (m: string) => void, logHost: string) {
  const names = hop.hostKeyAlias
    ? [hop.hostKeyAlias]
    : [knownHostsName(hop.address, hop.port), ...(hop.name !== hop.address ? [knownHostsName(hop.name, hop.port)] : [])];
  const files = [...hop.knownHostsFiles, ...extraFiles];
  const primary = hop.knownHostsFiles[0]!;
  const who = hop.name === hop.address ? hop.name : `${hop.name} (${hop.address})`;
  const say = (type: string, blob: Buffer, how: string) => verbose(3, logHost, () => `${who}: host key ${type} ${fingerprint(blob)}: ${how}`);
  return (blob: Buffer): boolean => {
    if (checking === 'off') {
      say(keyTypeOf(blob), blob, 'not checked (host key checking off)');
      return true;
    }
    const type = keyTypeOf(blob);
    const verdict = checkHostKeyIn(files, names, type, blob);
    if (verdict.kind === 'match') {
      say(type, blob, `known: found as ${names.join(' or ')} in ${verdict.file} (host key checking ${checking})`);
      return true;
    }
    say(type, blob, verdict.kind === 'mismatch' ? `${verdict.revoked ? 'REVOKED' : 'MISMATCH'} (${verdict.file}:${verdict.line})` : `unknown (not in ${files.join(', ')})`);
    if (verdict.kind === 'mismatch') {
      problem(
        verdict.revoked
          ? `REVOKED HOST KEY: ${who} presents a ${type} key marked @revoked in ${verdict.file}:${verdict.line}. Refusing to connect.`
          : `HOST KEY MISMATCH: ${who} presents a different ${type} key than ${verdict.file}:${verdict.line}. It may have been reinstalled, or someone may be intercepting the connection. Refusing to connect; if the change is expected, remove the old entry (ssh-keygen -R ${names[0]} -f ${verdict.file}).`,
      );
      return false;
    }
    if (checking === 'accept-new') {
      addHostKey(primary, names[0]!, type, blob);
      say(type, blob, `new: accepted (host key checking accept-new) and added to ${primary} as ${names[0]}`);
      return true;
    }
    problem(`unknown host key for ${names[0]}${hop.name !== hop.address ? ` (${hop.name})` : ''} (not in ${files.filter((f) => f !== '/dev/null').join(', ') || 'any known_hosts file'}). Verify it and add it (ssh-keyscan), or run with --host-key-checking accept-new.`);
    return false;
  };
}

type AuthStep = Record<string, unknown> & { type: string; username: string };

/**
 * The authentication attempts of one hop, in OpenSSH's order: the agent's keys, each identity file
 * (decrypted with its passphrase when one was given), then the password (also as
 * keyboard-interactive). What was tried and why a key was skipped make the failure's message.
 */
function authPlan(hop: Endpoint, auth: HopAuth, tried: string[], logHost: string) {
  const steps: (() => AuthStep | undefined)[] = [];
  if (process.env.SSH_AUTH_SOCK) {
    steps.push(() => {
      tried.push('ssh-agent');
      return { type: 'agent', username: hop.user, agent: process.env.SSH_AUTH_SOCK! };
    });
  }
  for (const file of hop.identityFiles) {
    steps.push(() => {
      const k = loadKey(file);
      if (k.kind === 'key') {
        tried.push(`key ${file}`);
        return { type: 'publickey', username: hop.user, key: k.key };
      }
      if (k.kind === 'encrypted') tried.push(`key ${file} (encrypted, and not in ssh-agent: no passphrase was given; add it with ssh-add, or run from a terminal to be asked for it)`);
      else if (k.kind === 'bad-passphrase') tried.push(`key ${file} (wrong passphrase)`);
      else tried.push(`key ${file} (unusable: ${k.why})`);
      return undefined;
    });
  }
  if (auth.password !== undefined) {
    const password = auth.password;
    steps.push(() => {
      tried.push('password');
      return { type: 'password', username: hop.user, password };
    });
    steps.push(() => ({
      type: 'keyboard-interactive',
      username: hop.user,
      prompt: (_n: string, _i: string, _l: string, prompts: { prompt: string }[], finish: (r: string[]) => void) =>
        finish(prompts.map((p) => (/password/i.test(p.prompt) ? password : ''))),
    }));
  }
  let i = 0;
  let gate = auth.gate;
  const handler = (methodsLeft: string[] | null, partial: boolean, next: (a: AuthStep | false) => void): void => {
    if (gate) {
      // Held before the first method: nothing of the user's reaches the server until the run wants this connection.
      const g = gate;
      gate = undefined;
      g.waiting();
      verbose(3, logHost, () => `${hop.name}: key exchange done ahead of the run; authentication waits until the inputs are known good`);
      void g.go.then((go) => {
        if (!go) return next(false);
        handler(methodsLeft, partial, next);
      });
      return;
    }
    while (i < steps.length) {
      const step = steps[i++]!();
      if (!step) continue;
      if (methodsLeft && !methodsLeft.includes(step.type === 'agent' ? 'publickey' : step.type)) continue;
      verbose(3, logHost, () => `${hop.name}: authenticating as ${hop.user} with ${tried.at(-1) ?? step.type}${methodsLeft ? ` (the server still accepts: ${methodsLeft.join(', ')})` : ''}`);
      return next(step);
    }
    next(false);
  };
  return handler;
}

/** A hop's keep-alive in words, for -vvv. */
export function describeKeepalive(k: Keepalive): string {
  if (k.intervalS <= 0) return `keep-alive off (${k.intervalFrom}): a dead host shows only when TCP gives up`;
  const noticed = `${num(k.intervalS * k.countMax)}-${num(k.intervalS * (k.countMax + 1))} s`;
  return `keep-alive every ${num(k.intervalS)} s (${k.intervalFrom}), unreachable after ${k.countMax} unanswered (${k.countFrom}): a dead or silent host is noticed in ${noticed}`;
}

const num = (s: number) => String(Number(s.toFixed(3)));

/**
 * Why ssh2 dropped a hop whose keep-alives went unanswered (its 'Keepalive timeout' error): the
 * count and the time, as it happened. ssh2 sends one every interval and gives up at the next tick
 * after `countMax` unanswered, so the first unanswered one was sent countMax intervals before.
 */
export function keepaliveLostMessage(k: Keepalive): string {
  if (k.countMax === 0) return `no answer within ${num(k.intervalS)} s (ServerAliveCountMax 0: no keep-alive is waited for)`;
  return `no answer to ${k.countMax} keep-alive${k.countMax === 1 ? '' : 's'} in ${num(k.intervalS * k.countMax)} s`;
}

async function connectHop(hop: Endpoint, sock: Duplex, p: ResolvedParams, auth: HopAuth, via: string, keepalive: Keepalive): Promise<NodeSSH> {
  let keyProblem: string | undefined;
  const tried: string[] = [];
  const ssh = new NodeSSH();
  const t0 = Date.now();
  let client: { _remoteVer?: string } | null = null;
  try {
    const connecting = ssh.connect({
      sock,
      host: hop.address,
      port: hop.port,
      username: hop.user,
      hostVerifier: hostVerifier(hop, p.extraKnownHostsFiles, p.hostKeyChecking, (m) => (keyProblem = m), p.name),
      authHandler: authPlan(hop, auth, tried, p.name),
      readyTimeout: p.connectTimeoutMs,
      // SSH-level (keepalive@openssh.com, answered by sshd even while a command runs), from the
      // end of authentication; 0: none.
      keepaliveInterval: keepalive.intervalS > 0 ? Math.max(1, Math.round(keepalive.intervalS * 1000)) : 0,
      keepaliveCountMax: keepalive.countMax,
    });
    // node-ssh makes its ssh2 client before its first await: the key exchange is still to come.
    client = ssh.connection as unknown as { _remoteVer?: string } | null;
    if (logs(3)) {
      ssh.connection?.once('handshake', (n: Negotiated) => verbose(3, p.name, () => `${hop.name}: ${describeNegotiated(n)}`));
      const server = ssh.connection as unknown as { _remoteVer?: string } | null;
      ssh.connection?.once('ready', () => verbose(3, p.name, () => `${hop.name}: ssh ready in ${since(t0)} (server ${server?._remoteVer ?? 'unknown'}, authenticated as ${hop.user} with ${tried.at(-1) ?? 'none'})`));
    }
    await connecting;
    return ssh;
  } catch (e) {
    sock.destroy();
    ssh.dispose();
    if (keyProblem) throw new UnreachableError(`${via}${keyProblem}`);
    const msg = (e as Error).message;
    if (/authentication methods failed/i.test(msg)) {
      throw new AuthenticationFailed(`${via}authentication failed for ${hop.user}@${hop.address}${hop.port !== 22 ? `:${hop.port}` : ''}: tried ${tried.length ? tried.join(', ') : 'nothing (no ssh-agent, no key file, no password)'}`);
    }
    // Closed before the server's identification line (sshd's MaxStartups): sshConnect retries it.
    const early = refusedBeforeHandshake(e, client?._remoteVer !== undefined);
    throw new (early ? RefusedBeforeHandshake : UnreachableError)(`${via}ssh to ${hop.address}:${hop.port} failed: ${msg}`);
  }
}

/** Runs one exec on an open connection, through the become exchange (become.ts). */
function startExec(ssh: NodeSSH, command: string) {
  return (ev: ProcEvents): Proc => {
    let channel: (Duplex & { stderr: NodeJS.ReadableStream; close(): void }) | undefined;
    const pending: (() => void)[] = [];
    let closed = false;
    ssh.connection!.exec(command, (err: Error | undefined, ch: typeof channel) => {
      if (err || !ch) {
        closed = true;
        ev.stderr(Buffer.from(`exec failed: ${err?.message ?? 'no channel'}\n`));
        ev.close(null, null);
        return;
      }
      channel = ch;
      let code: number | null = null;
      let signal: string | null = null;
      ch.on('data', (d: Buffer) => ev.stdout(d));
      ch.stderr.on('data', (d: Buffer) => ev.stderr(d));
      ch.on('exit', (c: number | null, s?: string) => {
        code = c ?? null;
        signal = s ?? null;
      });
      ch.on('error', () => {});
      ch.on('close', () => {
        closed = true;
        ev.close(code, signal);
      });
      for (const f of pending.splice(0)) f();
    });
    const whenOpen = (f: () => void) => (channel ? f() : pending.push(f));
    return {
      write: (data) => whenOpen(() => !closed && channel!.write(data)),
      end: () => whenOpen(() => !closed && channel!.end()),
      kill: () => whenOpen(() => !closed && channel!.close()),
    };
  };
}

/** A retry's wait, cut short when the attempt is given up (the next attempt then fails at once). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => (clearTimeout(t), signal.removeEventListener('abort', done), resolve());
    const t = setTimeout(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** The keep-alive line(s) of the -vvv summary: one when every hop has the same. */
function hopsKeepalive(p: ResolvedParams): string[] {
  const all = [...p.jumps.map((j) => ({ name: `jump host ${j.name}`, k: j.keepalive })), { name: p.name, k: p.keepalive }];
  const same = all.every((h) => describeKeepalive(h.k) === describeKeepalive(p.keepalive));
  return same ? [describeKeepalive(p.keepalive)] : all.map((h) => `${h.name}: ${describeKeepalive(h.k)}`);
}

export async function sshConnect(params: ConnectionParams, o: ConnectOptions = {}): Promise<Connection & { readonly connectRetries: number }> {
  // An ssh_config problem (SshConfigError) fails this host with ssh's own message.
  const t0 = Date.now();
  // Ahead of the run, the TCP connection to the inventory's address was begun while ssh_config is
  // read (head-start.ts): sshd starts its session process meanwhile. Used only if ssh_config leaves
  // that address and port as they are, with no jump host; else closed unused.
  let early = o.early;
  const dropEarly = () => {
    void early?.then((s) => s.destroy(), () => {});
    early = undefined;
  };
  let p: ResolvedParams;
  try {
    p = await resolveParams(params);
  } catch (e) {
    dropEarly();
    throw e;
  }
  if (early && (p.jumps.length || p.address !== params.address || p.port !== params.port)) dropEarly();
  verbose(3, params.name, () =>
    [
      `ssh: ${p.user}@${p.address}:${p.port}${params.ssh ? ` (completed from ssh_config for ${params.ssh.alias}, in ${since(t0)})` : ''}`,
      `keys to offer: ${[...(process.env.SSH_AUTH_SOCK ? ['ssh-agent'] : []), ...p.identityFiles].join(', ') || 'none'}${p.password !== undefined ? ', then a password' : ''}`,
      `host key checking ${p.hostKeyChecking} against ${[p.knownHostsFile, ...p.extraKnownHostsFiles].join(', ')}${p.hostKeyAlias ? ` (HostKeyAlias ${p.hostKeyAlias})` : ''}`,
      p.jumps.length ? `through jump host(s): ${p.jumps.map((j) => `${j.user}@${j.address}:${j.port}${j.name !== j.address ? ` (${j.name})` : ''}`).join(' → ')}` : 'direct, no jump host',
      ...hopsKeepalive(p),
      p.become ? `become ${p.becomeUser ?? 'root'} with sudo${p.user === (p.becomeUser ?? 'root') ? ' (not needed: already that user)' : p.becomePassword !== undefined ? ' (with a become password, sent only when sudo asks)' : ' -n (no password)'}` : 'no become',
    ].join('\n'),
  );
  const target: Endpoint = {
    name: params.name,
    address: p.address,
    port: p.port,
    user: p.user,
    identityFiles: p.identityFiles,
    knownHostsFiles: [p.knownHostsFile],
    ...(p.hostKeyAlias ? { hostKeyAlias: p.hostKeyAlias } : {}),
  };
  const hops: (Endpoint & { keepalive: Keepalive })[] = [...p.jumps, { ...target, keepalive: p.keepalive }];
  const clients: NodeSSH[] = [];
  /** The TCP connections opened (a jump host's forwarded streams ride on them). */
  const sockets: Socket[] = [];
  const tcp = (s: Socket) => (sockets.push(s), s);
  let connectRetries = 0;
  const hopLabel = (i: number) => (i < hops.length - 1 ? `jump host ${hops[i]!.name}: ` : p.jumps.length ? `${params.name} (through ${p.jumps.map((j) => j.name).join(', ')}): ` : '');
  try {
    for (let i = 0; i < hops.length; i++) {
      const hop = hops[i]!;
      const isTarget = i === hops.length - 1;
      const prev = clients[i - 1];
      // Each attempt opens its own stream (a TCP connection, or one forwarded by the previous hop),
      // with a slot of this sshd held until authenticated (startup.ts: paced, retried).
      const open = async (): Promise<Duplex> => {
        if (o.signal?.aborted) throw new UnreachableError(`${hopLabel(i)}connection given up before it was needed`);
        const ahead = early;
        early = undefined; // the first attempt's only: a retry opens its own
        // A TCP socket is destroyed on abort by openSocket itself (the early one too); a forwarded stream here.
        if (ahead) return tcp(await ahead);
        if (!prev) return tcp(await openSocket(hop.address, hop.port, p.connectTimeoutMs, p.jumps.length ? `jump host ${hop.name} at ` : '', p.name, o.signal));
        const s = await forwardThrough(prev, hops[i - 1]!.name, hop.address, hop.port, p.connectTimeoutMs, p.name);
        destroyOnAbort(s, o.signal);
        return s;
      };
      // The first hop holds its authentication for the gate, if any: the hops after it wait on it anyway.
      const auth: HopAuth = { ...(isTarget ? { password: p.password } : {}), ...(i === 0 && o.gate ? { gate: o.gate } : {}) };
      const set = await setUpPaced(endpointKey(hops.slice(0, i + 1)), async () => connectHop(hop, await open(), p, auth, hopLabel(i), hop.keepalive), {
        ...(o.signal ? { sleep: (ms: number) => abortableSleep(ms, o.signal!) } : {}),
        onRetry: (n, ms, e) => {
          connectRetries++;
          verbose(1, p.name, `${hopLabel(i)}connection refused by ${hop.address}:${hop.port} before the handshake (sshd MaxStartups?): retry ${n} in ${(ms / 1000).toFixed(1)} s`);
          verbose(3, p.name, () => `retry ${n} because: ${e.message}`);
        },
      });
      clients.push(set.value);
    }
  } catch (e) {
    dropEarly();
    for (const c of clients.reverse()) c.dispose();
    if (connectRetries && e instanceof UnreachableError) Object.assign(e, { connectRetries });
    throw e;
  }
  const ssh = clients.at(-1)!;

  const state: { lost?: Error } = {};
  clients.forEach((c, i) => {
    const hop = hops[i]!;
    c.connection?.on('error', (e: Error & { level?: string }) => {
      if (e.level === 'client-timeout' && /keepalive/i.test(e.message)) {
        // What gives up first says why: a jump host's silence closes the hops after it too.
        const why = `${i < hops.length - 1 ? `jump host ${hop.name}: ` : ''}${keepaliveLostMessage(hop.keepalive)}`;
        verbose(1, p.name, () => `${i < hops.length - 1 ? `jump host ${hop.name}` : hop.name}: ${keepaliveLostMessage(hop.keepalive)} (${describeKeepalive(hop.keepalive)}): connection dropped`);
        if (!state.lost || !/keep-alive|no answer/.test(state.lost.message)) state.lost = new Error(why);
      } else state.lost ??= e;
    });
    c.connection?.on('close', () => (state.lost ??= new Error('connection closed')));
  });
  const lostNow = () => state.lost;
  let roundTrips = 0;
  const becomeUser = p.becomeUser ?? 'root';
  return {
    host: p.name,
    connectRetries,
    get roundTrips() {
      return roundTrips;
    },
    async run(script: string): Promise<ExecResult> {
      const before = lostNow();
      if (before) throw new UnreachableError(`connection to ${p.name} lost: ${before.message}`);
      roundTrips++;
      const plan = becomePlan({ user: p.user, become: p.become, becomeUser, withPassword: p.becomePassword !== undefined });
      verbose(3, p.name, () => `exec ${plan.command}`);
      const r = await drive(startExec(ssh, plan.command), script, plan, { password: p.becomePassword, timeoutMs: Math.max(p.connectTimeoutMs, 10_000) });
      if (plan.becomeUser) verbose(3, p.name, () => becomeOutcome(r, plan.becomeUser!, p.user));
      const lost = lostNow();
      if (r.becomeFailed) {
        if (lost) throw new UnreachableError(`connection to ${p.name} lost: ${lost.message}`);
        throw new BecomeError(becomeFailureMessage(r, { user: p.user, becomeUser, hadPassword: p.becomePassword !== undefined, timeoutMs: Math.max(p.connectTimeoutMs, 10_000) }));
      }
      if (r.code === null) throw new UnreachableError(`connection to ${p.name} lost${r.signal ? ` (signal ${r.signal})` : lost ? `: ${lost.message}` : ''}`);
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async close() {
      for (const c of clients.reverse()) c.dispose();
      // Closed once the disconnect is written: waiting for sshd to close its side too (its
      // session's teardown, 10-15 ms here) only held mxplay's exit.
      for (const s of sockets) s.destroySoon();
    },
  };
}
