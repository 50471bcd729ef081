// Private keys on the control machine: reading them, telling an encrypted one, its passphrase.
import { existsSync, readFileSync } from 'node:fs';
import { parseKey, type ParsedKey } from 'ssh2/lib/protocol/keyParser.js';
import { OpenSSHAgent } from 'ssh2/lib/agent.js';

/** Passphrases given in this run (asked on the terminal), by key file. Never written anywhere. */
const passphrases = new Map<string, string>();

export function rememberPassphrase(file: string, passphrase: string): void {
  passphrases.set(file, passphrase);
}

export type LoadedKey =
  | { kind: 'key'; key: ParsedKey }
  | { kind: 'encrypted' }
  | { kind: 'bad-passphrase' }
  | { kind: 'unreadable'; why: string };

/** A private key file, decrypted with its remembered passphrase (or the one given). */
export function loadKey(file: string, passphrase = passphrases.get(file)): LoadedKey {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    return { kind: 'unreadable', why: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  const r = parseKey(data, passphrase);
  const k = Array.isArray(r) ? r[0] : r;
  if (k instanceof Error) {
    if (/no passphrase given/i.test(k.message)) return { kind: 'encrypted' };
    if (passphrase !== undefined && /passphrase|integrity|malformed/i.test(k.message)) return { kind: 'bad-passphrase' };
    return { kind: 'unreadable', why: k.message };
  }
  if (!k || !k.isPrivateKey()) return { kind: 'unreadable', why: 'not a private key' };
  return { kind: 'key', key: k };
}

/** The public half of a key file without its passphrase: FILE.pub, or the openssh-key-v1 header. */
export function publicBlobOf(file: string): Buffer | undefined {
  if (existsSync(`${file}.pub`)) {
    const r = parseKey(readFileSync(`${file}.pub`, 'utf8'));
    const k = Array.isArray(r) ? r[0] : r;
    if (k && !(k instanceof Error)) return k.getPublicSSH();
  }
  try {
    const text = readFileSync(file, 'utf8');
    const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
    if (!m) return undefined;
    const b = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
    const magic = 'openssh-key-v1\0';
    if (b.subarray(0, magic.length).toString('latin1') !== magic) return undefined;
    let at = magic.length;
    const str = () => {
      const len = b.readUInt32BE(at);
      const v = b.subarray(at + 4, at + 4 + len);
      at += 4 + len;
      return v;
    };
    str(); // cipher
    str(); // kdf
    str(); // kdf options
    at += 4; // number of keys
    return str();
  } catch {
    return undefined;
  }
}

/** The public keys the ssh-agent holds (none without SSH_AUTH_SOCK or when it does not answer). */
export function agentKeys(socket = process.env.SSH_AUTH_SOCK): Promise<Buffer[]> {
  if (!socket) return Promise.resolve([]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([]), 3000);
    try {
      new OpenSSHAgent(socket).getIdentities((err, keys) => {
        clearTimeout(timer);
        resolve(err || !keys ? [] : keys.map((k) => k.getPublicSSH()));
      });
    } catch {
      clearTimeout(timer);
      resolve([]);
    }
  });
}

/** Whether the agent can sign for this key file (so its passphrase is not needed). */
export async function agentHolds(file: string): Promise<boolean> {
  const blob = publicBlobOf(file);
  if (!blob) return false;
  return (await agentKeys()).some((k) => k.equals(blob));
}
