import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type HostKeyVerdict =
  | { kind: 'match' }
  | { kind: 'unknown' }
  | { kind: 'mismatch'; line: number; revoked?: boolean };

/** How OpenSSH names a host in known_hosts: bare for port 22, [host]:port otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostMatches(field: string, names: string[]): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return names.some((n) => createHmac('sha1', Buffer.from(salt, 'base64')).update(n).digest('base64') === hash);
  }
  const patterns = field.split(',');
  if (patterns.some((p) => p.startsWith('!') && names.includes(p.slice(1)))) return false;
  return patterns.some((p) => names.includes(p));
}

/** Check a server's key blob against a known_hosts file (plain and hashed entries). */
export function checkHostKey(file: string, names: string[], keyType: string, keyBlob: Buffer): HostKeyVerdict {
  if (!existsSync(file)) return { kind: 'unknown' };
  const want = keyBlob.toString('base64');
  const lines = readFileSync(file, 'utf8').split('\n');
  let mismatch = 0;
  let matched = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const marker = parts[0]?.startsWith('@') ? parts.shift() : undefined;
    const [hosts, type, blob] = parts;
    if (!hosts || !type || !blob) continue;
    // A revoked key is refused whatever else the file says; CA keys (certificates) are not supported.
    if (marker === '@revoked') {
      if (blob === want) return { kind: 'mismatch', line: i + 1, revoked: true };
      continue;
    }
    if (marker || !hostMatches(hosts, names)) continue;
    if (blob === want) matched = true;
    else if (type === keyType && !mismatch) mismatch = i + 1;
  }
  if (matched) return { kind: 'match' };
  return mismatch ? { kind: 'mismatch', line: mismatch } : { kind: 'unknown' };
}

export function addHostKey(file: string, name: string, keyType: string, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${name} ${keyType} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}

/** The key type name is the first string inside the SSH wire-format blob. */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

/**
 * A key checked against several known_hosts files, as OpenSSH does (user files, then global ones):
 * a revoked key is refused wherever it is; otherwise a match in any file is enough; a mismatch is
 * reported with the file and line of the entry that differs; a match with the file it is in.
 */
export function checkHostKeyIn(files: string[], names: string[], keyType: string, keyBlob: Buffer): HostKeyVerdict & { file?: string } {
  const verdicts = files.map((f) => ({ file: f, v: checkHostKey(f, names, keyType, keyBlob) }));
  const revoked = verdicts.find((x) => x.v.kind === 'mismatch' && x.v.revoked);
  if (revoked) return { ...revoked.v, file: revoked.file };
  const match = verdicts.find((x) => x.v.kind === 'match');
  if (match) return { kind: 'match', file: match.file };
  const mismatch = verdicts.find((x) => x.v.kind === 'mismatch');
  if (mismatch) return { ...mismatch.v, file: mismatch.file };
  return { kind: 'unknown' };
}
