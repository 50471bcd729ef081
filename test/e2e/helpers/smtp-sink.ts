// A tiny SMTP server that accepts every mail and keeps it in memory: enough for a real MTA client
// (Twisted's, in Synapse) to deliver to it. Plain TCP unless asked for TLS (`tls`: STARTTLS, then
// required before AUTH and MAIL; or implicit TLS from the first byte); no AUTH unless asked for
// (`auth`: it then offers AUTH PLAIN, and takes a mail only after a login with exactly those credentials).
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';

export interface SinkMessage {
  /** the HELO/EHLO name the client gave */
  helo: string;
  from: string;
  to: string[];
  /** the DATA as sent, dot-unstuffed, CRLF line ends, without the final "." line */
  data: string;
  /** top-level headers, names lowercased (unfolded) */
  headers: Record<string, string>;
  /** every text part decoded (base64 / quoted-printable), joined */
  text: string;
  receivedAt: number;
  /** the user the client logged in as (AUTH PLAIN), when the sink asks for a login */
  authUser?: string;
  /** delivered over TLS (after STARTTLS, or implicit) */
  tls: boolean;
}

export interface SmtpSinkOptions {
  /** Offer AUTH PLAIN and require a login with exactly these credentials before MAIL. */
  auth?: { user: string; pass: string };
  /** A certificate and key (PEM): `starttls` offers STARTTLS and requires it before AUTH and MAIL; `implicit` speaks TLS from the first byte. */
  tls?: { cert: string; key: string; mode: 'starttls' | 'implicit' };
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: SinkMessage[];
  /** AUTH attempts refused (wrong credentials, or not AUTH PLAIN), in order: what the client sent. */
  authFailures: { user: string; pass: string }[];
  /** Resolves with the first message (received so far or later) matching, or rejects at the deadline. */
  waitFor(match: (m: SinkMessage) => boolean, deadlineMs?: number): Promise<SinkMessage>;
  close(): Promise<void>;
}

export async function startSmtpSink(host: string, port = 0, opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const authFailures: { user: string; pass: string }[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  /** The server side of a TLS session on this socket (STARTTLS, or implicit TLS from the start). */
  const upgrade = (raw: Socket) => new TLSSocket(raw, { isServer: true, secureContext });

  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    if (opts.tls?.mode === 'implicit') session(upgrade(raw), true, true);
    else session(raw, false, true);
  });

  function session(sock: Socket, secure: boolean, greet: boolean): void {
    sock.on('error', () => {});
    sock.setEncoding('latin1');
    const say = (line: string) => sock.write(`${line}\r\n`);
    let helo = '';
    let from = '';
    let to: string[] = [];
    let inData = false;
    let buf = '';
    let authUser: string | undefined;
    /** After a bare "AUTH PLAIN": the next line is the base64 response. */
    let authPending = false;
    const tryLogin = (b64: string) => {
      // \0authcid\0passwd (RFC 4616), as UTF-8: the line itself is latin1 (base64 is ASCII).
      const [, user = '', pass = ''] = Buffer.from(b64.trim(), 'base64').toString('utf8').split('\0');
      if (opts.auth && user === opts.auth.user && pass === opts.auth.pass) {
        authUser = user;
        say('235 2.7.0 authentication successful');
      } else {
        authFailures.push({ user, pass });
        say('535 5.7.8 authentication credentials invalid');
      }
    };
    if (greet) say(`220 ${host} mxplay-e2e-sink ESMTP`);
    const tlsFirst = opts.tls?.mode === 'starttls' && !secure;
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        if (inData) {
          // DATA ends at CRLF "." CRLF (the data may also be empty: "." right away).
          const end = buf.startsWith('.\r\n') ? 0 : buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const raw = end === 0 ? '' : buf.slice(0, end + 2);
          buf = buf.slice(end === 0 ? 3 : end + 5);
          inData = false;
          const data = raw.split('\r\n').map((l) => (l.startsWith('..') ? l.slice(1) : l)).join('\r\n');
          messages.push({ helo, from, to, data, ...parseMessage(data), receivedAt: Date.now(), tls: secure, ...(authUser !== undefined ? { authUser } : {}) });
          from = '';
          to = [];
          say('250 2.0.0 queued');
          for (const w of waiters) w();
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (authPending) {
          authPending = false;
          tryLogin(line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        const arg = line.slice(4).trim();
        if (verb === 'EHLO') {
          helo = arg;
          // AUTH only once the session is encrypted, when TLS is offered (as a real MTA does).
          const ext = [tlsFirst && 'STARTTLS', opts.auth && !tlsFirst && 'AUTH PLAIN'].filter(Boolean).map((e) => `250-${e}\r\n`).join('');
          sock.write(`250-${host} hello ${arg}\r\n250-8BITMIME\r\n${ext}250 SIZE 10485760\r\n`);
        } else if (verb === 'STAR' && line.toUpperCase() === 'STARTTLS' && tlsFirst) {
          say('220 2.0.0 ready to start TLS');
          sock.removeAllListeners('data');
          // The client starts over on the encrypted session: EHLO again, then AUTH and MAIL.
          session(upgrade(sock), true, false);
          return;
        } else if (tlsFirst && (verb === 'AUTH' || verb === 'MAIL')) {
          say('530 5.7.0 must issue a STARTTLS command first');
        } else if (verb === 'HELO') {
          helo = arg;
          say(`250 ${host} hello ${arg}`);
        } else if (verb === 'AUTH' && opts.auth) {
          const [mech = '', initial] = arg.split(/\s+/);
          if (mech.toUpperCase() !== 'PLAIN') {
            authFailures.push({ user: '', pass: '' });
            say('504 5.5.4 only AUTH PLAIN');
          } else if (initial === undefined) {
            authPending = true;
            say('334 ');
          } else tryLogin(initial);
        } else if (verb === 'MAIL' && opts.auth && !authUser) {
          say('530 5.7.0 authentication required');
        } else if (verb === 'MAIL') {
          from = /<([^>]*)>/.exec(arg)?.[1] ?? '';
          to = [];
          say('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          to.push(/<([^>]*)>/.exec(arg)?.[1] ?? '');
          say('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          if (!to.length) say('503 5.5.1 RCPT first');
          else {
            inData = true;
            say('354 end data with <CR><LF>.<CR><LF>');
          }
        } else if (verb === 'RSET') {
          from = '';
          to = [];
          say('250 2.0.0 ok');
        } else if (verb === 'NOOP') say('250 2.0.0 ok');
        else if (verb === 'QUIT') {
          say('221 2.0.0 bye');
          sock.end();
          return;
        } else say('502 5.5.2 not implemented');
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('smtp sink: no address');

  return {
    host,
    port: addr.port,
    messages,
    authFailures,
    waitFor(match, deadlineMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(match);
          if (!m) return false;
          cleanup();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`smtp sink: no matching mail within ${deadlineMs} ms (got ${messages.length}: ${messages.map((m) => `${m.from} -> ${m.to.join(',')}`).join('; ') || 'none'})`));
        }, deadlineMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Headers and decoded text of a MIME message: enough for what Synapse sends (multipart/alternative). */
function parseMessage(data: string): { headers: Record<string, string>; text: string } {
  const { headers, body } = splitHeaders(data);
  return { headers, text: decodePart(headers, body) };
}

function splitHeaders(part: string): { headers: Record<string, string>; body: string } {
  const sep = part.indexOf('\r\n\r\n');
  const head = sep < 0 ? part : part.slice(0, sep);
  const body = sep < 0 ? '' : part.slice(sep + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body };
}

function decodePart(headers: Record<string, string>, body: string): string {
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    return body
      .split(`--${boundary}`)
      .slice(1)
      .filter((p) => !p.startsWith('--'))
      .map((p) => {
        const sub = splitHeaders(p.replace(/^\r\n/, ''));
        return decodePart(sub.headers, sub.body);
      })
      .join('\n');
  }
  const enc = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}
