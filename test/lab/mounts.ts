// Mounts in the control machine's mount namespace, and removing directories
// that may still have something mounted inside (a crashed run, or debootstrap
// killed while /proc was mounted in its target): unmount first, and never let
// rm cross into another filesystem.
import { readFile } from 'node:fs/promises';
import { run } from './exec.ts';
import { log } from './log.ts';

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export async function mountPoints(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .filter(Boolean)
    .map((line) => unescape(line.split(' ')[4] ?? ''));
}

/** Mount points at or below `dir`, deepest first (the order to unmount). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const found = (await mountPoints()).filter((m) => m === dir || m.startsWith(prefix));
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Unmounts everything at or below `dir`. A busy mount gets a few tries,
 * then a lazy unmount, so teardown always completes; the lazy case is logged
 * because it means some process still held files there. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = await mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) await run(['umount', m], { allowFail: true });
  }
  for (const m of await mountsUnder(dir)) {
    log(`warning: ${m} stayed busy; unmounting lazily`);
    await run(['umount', '-l', m], { allowFail: true });
  }
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`could not unmount ${left.join(', ')}`);
}

/** rm -rf that first unmounts what is inside and refuses to cross filesystems. */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  await run(['rm', '-rf', '--one-file-system', dir]);
}
