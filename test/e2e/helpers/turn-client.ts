// A minimal TURN client from the control machine (RFC 5766 Allocate over UDP with long-term
// credentials): what coturn answers to a real Allocate, including the LIFETIME it grants, which
// options like max-allocate-lifetime change. The allocation is released (Refresh, LIFETIME 0).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

const COOKIE = 0x2112a442;
const ALLOCATE = 0x0003;
const REFRESH = 0x0004;
const A = { USERNAME: 0x0006, MI: 0x0008, ERROR: 0x0009, LIFETIME: 0x000d, REALM: 0x0014, NONCE: 0x0015, TRANSPORT: 0x0019 };

type Attrs = Map<number, Buffer>;

function attr(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

function message(kind: number, tid: Buffer, attrs: [number, Buffer][], key?: Buffer): Buffer {
  let body = Buffer.concat(attrs.map(([t, v]) => attr(t, v)));
  const header = (len: number) => {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(kind, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(COOKIE, 4);
    return Buffer.concat([h, tid]);
  };
  // MESSAGE-INTEGRITY covers the header with a length that already counts it (24 bytes).
  if (key) body = Buffer.concat([body, attr(A.MI, createHmac('sha1', key).update(Buffer.concat([header(body.length + 24), body])).digest())]);
  return Buffer.concat([header(body.length), body]);
}

function parse(data: Buffer): { kind: number; tid: Buffer; attrs: Attrs } {
  const attrs: Attrs = new Map();
  const length = data.readUInt16BE(2);
  for (let i = 20; i < 20 + length;) {
    const t = data.readUInt16BE(i);
    const n = data.readUInt16BE(i + 2);
    if (!attrs.has(t)) attrs.set(t, data.subarray(i + 4, i + 4 + n));
    i += 4 + n + ((4 - (n % 4)) % 4);
  }
  return { kind: data.readUInt16BE(0), tid: data.subarray(8, 20), attrs };
}

export interface AllocateResult {
  /** 200 on success, else coturn's error code. */
  code: number;
  /** Seconds granted, on success. */
  lifetime?: number;
}

/** One Allocate (challenge, then authenticated), retried over UDP until `deadlineMs`. */
export async function turnAllocate(host: string, port: number, user: string, password: string, deadlineMs = 10_000): Promise<AllocateResult> {
  const sock = createSocket('udp4');
  const replies = new Map<string, (m: ReturnType<typeof parse>) => void>();
  sock.on('message', (d) => {
    const m = parse(d);
    replies.get(m.tid.toString('hex'))?.(m);
  });
  const end = Date.now() + deadlineMs;
  const ask = async (kind: number, attrs: [number, Buffer][], key?: Buffer) => {
    const tid = randomBytes(12);
    const msg = message(kind, tid, attrs, key);
    const answer = new Promise<ReturnType<typeof parse>>((resolve) => replies.set(tid.toString('hex'), resolve));
    while (Date.now() < end) {
      sock.send(msg, port, host);
      const r = await Promise.race([answer, new Promise<null>((res) => setTimeout(() => res(null), 500))]);
      if (r) return r;
    }
    throw new Error(`no TURN answer from ${host}:${port} within ${deadlineMs} ms`);
  };
  try {
    const transport: [number, Buffer] = [A.TRANSPORT, Buffer.from([17, 0, 0, 0])];
    const challenge = await ask(ALLOCATE, [transport]);
    const realm = challenge.attrs.get(A.REALM) ?? Buffer.alloc(0);
    const nonce = challenge.attrs.get(A.NONCE) ?? Buffer.alloc(0);
    const key = createHash('md5').update(Buffer.concat([Buffer.from(`${user}:`), realm, Buffer.from(`:${password}`)])).digest();
    const auth: [number, Buffer][] = [[A.USERNAME, Buffer.from(user)], [A.REALM, realm], [A.NONCE, nonce]];
    const r = await ask(ALLOCATE, [transport, ...auth], key);
    if (r.kind !== 0x0103) {
      const e = r.attrs.get(A.ERROR);
      return { code: e ? (e[2]! & 7) * 100 + e[3]! : 0 };
    }
    const lifetime = r.attrs.get(A.LIFETIME)?.readUInt32BE(0);
    await ask(REFRESH, [[A.LIFETIME, Buffer.alloc(4)], ...auth], key); // release it
    return { code: 200, ...(lifetime !== undefined ? { lifetime } : {}) };
  } finally {
    sock.close();
  }
}

/** TURN REST API credentials, as Synapse makes them from the shared secret. */
export function turnCredentials(secret: string, name: string): [string, string] {
  const user = `${Math.floor(Date.now() / 1000) + 3600}:${name}`;
  return [user, createHmac('sha1', secret).update(user).digest('base64')];
}
