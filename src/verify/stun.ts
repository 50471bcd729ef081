import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** A STUN Binding request (RFC 5389) over UDP, sent up to 3 times a second apart (UDP may drop one). */
export async function stunBinding(address: string, port: number): Promise<string> {
  const id = randomBytes(12);
  const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
  const sock = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout;
      const send = () => {
        if (tries++ === 3) return reject(new Error(`no STUN answer from ${address}:${port}/udp in 3 s`));
        sock.send(request, port, address);
        timer = setTimeout(send, 1000);
      };
      timer = setTimeout(send, 0);
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on('message', (m) => {
        if (m.length >= 20 && m.subarray(8, 20).equals(id)) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
    return describeStunAnswer(answer);
  } finally {
    sock.close();
  }
}

/** A Binding success response: the address the server saw us at (XOR-MAPPED-ADDRESS, IPv4). */
export function describeStunAnswer(m: Buffer): string {
  const type = m.readUInt16BE(0);
  if (type !== 0x0101) throw new Error(`STUN answer of type 0x${type.toString(16)}, wanted a Binding success (0x0101)`);
  for (let i = 20; i + 4 <= m.length; ) {
    const attr = m.readUInt16BE(i);
    const len = m.readUInt16BE(i + 2);
    if (attr === 0x0020 && len >= 8 && m[i + 5] === 0x01) {
      const port = m.readUInt16BE(i + 6) ^ 0x2112;
      const ip = [0, 1, 2, 3].map((k) => m[i + 8 + k]! ^ [0x21, 0x12, 0xa4, 0x42][k]!).join('.');
      return `Binding answered: it sees this machine as ${ip}:${port}`;
    }
    i += 4 + len + ((4 - (len % 4)) % 4);
  }
  return 'Binding answered';
}
