// How a lab host is booted with systemd-nspawn on this kind of control
// machine, and how everything it ran is found and ended again.
import { readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, hostPaths } from './config.ts';
import { pollUntil } from './wait.ts';

/** Every lab host gets its own cgroup (v2) below this one. */
export const CGROUP_ROOT = '/sys/fs/cgroup/unified/mxplay-lab';
export const hostCgroup = (name: string) => join(CGROUP_ROOT, name);

/** The control machine mounts cgroups "hybrid" (v1 controllers plus v2 at
 * /sys/fs/cgroup/unified); a current systemd inside the host only runs on a
 * pure v2 hierarchy. So nspawn starts in its own mount namespace where the v2
 * tree is bind-mounted over /sys/fs/cgroup (make-rprivate first, so none of
 * this propagates back to the control machine).
 *
 * Before that, the shell moves itself into the host's own cgroup. Without
 * it every nspawn sits in the root cgroup and creates its container's tree
 * at the same place (/payload), so all hosts' systemds shared one cgroup
 * tree: the sshd of every host in one /payload/system.slice/ssh.service, and
 * a unit whose cgroup another host had just removed failed to start ("Failed
 * to spawn executor: No such file or directory", ~1 boot in 20 degraded). */
const BOOT_SCRIPT = [
  'cg=$1; shift',
  'mkdir -p "$cg" && echo $$ > "$cg/cgroup.procs"',
  'mount --make-rprivate /',
  'mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup',
  'exec "$@"',
].join(' && ');

export function nspawnArgv(name: string, opts: { docker: boolean }): string[] {
  const p = hostPaths(name);
  return [
    'unshare', '--mount', '--',
    '/bin/sh', '-c', BOOT_SCRIPT, 'mxplay-lab-boot', hostCgroup(name),
    'systemd-nspawn',
    '--quiet',
    '--boot',
    `--directory=${p.root}`,
    `--machine=${name}`,
    // No systemd on the control machine to register with or to make a scope.
    '--register=no',
    '--keep-unit',
    `--network-bridge=${BRIDGE}`,
    // The base ships its own resolv.conf (no DNS) and no persistent journal
    // link into the control machine's /var/log/journal.
    '--resolv-conf=off',
    '--link-journal=no',
    ...(opts.docker
      ? [
          // dockerd needs every capability, the keyring and bpf syscalls, and a
          // /var/lib/docker that is not on the overlayfs root (overlay2 cannot
          // stack on overlayfs).
          '--capability=all',
          '--system-call-filter=@keyring bpf',
          `--bind=${p.docker}:/var/lib/docker`,
        ]
      : []),
  ];
}

/** Names of hosts that have a cgroup (running, or left over by a crash). */
export async function cgroupHostNames(): Promise<string[]> {
  try {
    return (await readdir(CGROUP_ROOT, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Every process in the host's cgroup tree: nspawn and the whole container. */
export async function cgroupPids(name: string): Promise<number[]> {
  const pids: number[] = [];
  const walk = async (dir: string): Promise<void> => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    pids.push(...procs.split('\n').filter(Boolean).map(Number));
    const subdirs = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const d of subdirs) if (d.isDirectory()) await walk(join(dir, d.name));
  };
  await walk(hostCgroup(name));
  return pids;
}

/** Kills whatever still runs in the host's cgroup (after a hard kill of
 * nspawn the container's init lives on, reparented) and removes the cgroup.
 * Returns how many processes had to be killed. */
export async function killAndRemoveCgroup(name: string): Promise<number> {
  const dir = hostCgroup(name);
  const left = (await cgroupPids(name)).length;
  if (left) {
    await writeFile(join(dir, 'cgroup.kill'), '1'); // the kernel kills the whole subtree
    await pollUntil(async () => (await cgroupPids(name)).length === 0, {
      what: `the processes of lab host ${name} to exit`,
      timeoutMs: 10_000,
    });
  }
  await removeCgroupTree(dir);
  return left;
}

/** cgroup directories go with rmdir only, children first. */
async function removeCgroupTree(dir: string): Promise<void> {
  const subdirs = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const d of subdirs) if (d.isDirectory()) await removeCgroupTree(join(dir, d.name));
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Only succeeds once every host's cgroup is gone; otherwise it stays (a
 * host that could not be stopped is reported by the caller). */
export async function removeCgroupRoot(): Promise<void> {
  await rmdir(CGROUP_ROOT).catch(() => {});
}

/** nspawn leaves these on the control machine's /run, which is not a tmpfs
 * here, so they survive and would confuse the next boot of the same name;
 * after a hard kill also its image lock, named after the root's device and
 * inode (`rootId`, taken while the overlay was still mounted). */
export async function removeRunState(name: string, rootId?: { dev: number; ino: number }): Promise<void> {
  for (const sub of ['propagate/', 'unix-export/', '']) {
    await rm(`/run/systemd/nspawn/${sub}${name}`, { recursive: true, force: true });
  }
  if (rootId) await rm(`/run/systemd/nspawn/locks/inode-${rootId.dev}:${rootId.ino}`, { force: true });
}
