// The lab known_hosts file: each host's real host keys, read from its root
// before it boots, so clients can use StrictHostKeyChecking=yes with no
// trust-on-first-use.
//
// Several processes may update it at once (a test's stop() and a background
// `down` after Ctrl-C; hosts stopping in parallel): every change is a
// read-modify-write under a lock file, written to a temp file and renamed.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { KNOWN_HOSTS_FILE } from './config.ts';
import { withLock } from './lock.ts';

async function update(change: (lines: string[]) => string[]): Promise<void> {
  await withLock(`${KNOWN_HOSTS_FILE}.lock`, async () => {
    const old = await readFile(KNOWN_HOSTS_FILE, 'utf8').catch(() => '');
    const lines = old.split('\n').filter((l) => l.trim() !== '');
    const next = change(lines).map((l) => `${l}\n`).join('');
    if (next === old) return;
    const tmp = `${KNOWN_HOSTS_FILE}.${process.pid}.tmp`;
    await writeFile(tmp, next, { mode: 0o644 });
    await rename(tmp, KNOWN_HOSTS_FILE);
  });
}

const mentionsAny = (line: string, names: Set<string>) =>
  (line.split(' ')[0] ?? '').split(',').some((n) => names.has(n));

/** Replaces the entries of the given hosts. `names` are every name the host is
 * reached by (IP, short name, FQDN); `publicKeys` are "type base64" pairs. */
export async function setKnownHosts(entries: Array<{ names: string[]; publicKeys: string[] }>): Promise<void> {
  const all = new Set(entries.flatMap((e) => e.names));
  const added = entries.flatMap((e) => e.publicKeys.map((k) => `${e.names.join(',')} ${k}`));
  await update((lines) => [...lines.filter((l) => !mentionsAny(l, all)), ...added]);
}

export async function removeKnownHosts(names: string[]): Promise<void> {
  const set = new Set(names);
  await update((lines) => lines.filter((l) => !mentionsAny(l, set)));
}

/** After `down` no lab host runs, so no entry may stay trusted. */
export async function clearKnownHosts(): Promise<void> {
  await update(() => []);
}
