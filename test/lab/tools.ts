// The control machine's own tools. Installed from bookworm explicitly (other
// suites may be configured) and only when missing, so a warm machine pays
// one dpkg-query and nothing else.
import { access, rm, writeFile } from 'node:fs/promises';
import { run } from './exec.ts';
import { log, timed } from './log.ts';

/** Each command the lab runs, with the package that provides it. */
const TOOLS: ReadonlyArray<{ pkg: string; binary: string }> = [
  { pkg: 'debootstrap', binary: '/usr/sbin/debootstrap' },
  { pkg: 'apt-cacher-ng', binary: '/usr/sbin/apt-cacher-ng' },
  { pkg: 'openssh-client', binary: '/usr/bin/ssh' },
  { pkg: 'iproute2', binary: '/usr/sbin/ip' },
  { pkg: 'curl', binary: '/usr/bin/curl' },
  // debootstrap checks the sid Release signature against this keyring.
  { pkg: 'debian-archive-keyring', binary: '/usr/share/keyrings/debian-archive-keyring.gpg' },
  // Not the lab's own: the tests compare mxplay with Ansible (vault files, inventories, Jinja).
  { pkg: 'ansible-core', binary: '/usr/bin/ansible-vault' },
  // PyYAML, Synapse's YAML reader: the unit tests read the fragments back with it.
  { pkg: 'python3-yaml', binary: '/usr/lib/python3/dist-packages/yaml/__init__.py' },
  // The shell completion tests run mxplay's zsh script in zsh itself.
  { pkg: 'zsh', binary: '/usr/bin/zsh' },
  // The browser tests drive Debian's Chromium headless; certutil fills its profile's NSS trust store.
  // Without recommends, chromium leaves systemd alone (the check below stays meaningful).
  { pkg: 'chromium', binary: '/usr/bin/chromium' },
  { pkg: 'libnss3-tools', binary: '/usr/bin/certutil' },
  // The ACME tests issue certificates from Pebble (Let's Encrypt's test server) and its mock DNS.
  { pkg: 'pebble', binary: '/usr/bin/pebble-challtestsrv' },
];

export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the mxplay lab needs root (it mounts overlays, makes a bridge and boots containers): run it as root, e.g. `sudo npm run lab -- up`',
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Installed version of a package, or undefined. */
async function installedVersion(pkg: string): Promise<string | undefined> {
  const r = await run(['dpkg-query', '-W', '-f=${db:Status-Status} ${Version}', pkg], { allowFail: true });
  const [status, version] = r.stdout.trim().split(' ');
  return r.code === 0 && status === 'installed' ? version : undefined;
}

export async function ensureControlTools(): Promise<void> {
  assertRoot();
  const wanted: string[] = [];
  for (const t of TOOLS) {
    if (!(await exists(t.binary)) || !(await installedVersion(t.pkg))) wanted.push(t.pkg);
  }
  // systemd-nspawn must match the running systemd libraries exactly: bookworm
  // may offer a newer systemd-container than the installed systemd, and apt
  // would then try to upgrade systemd itself.
  const systemd = await installedVersion('systemd');
  if (!systemd) throw new Error('package systemd is not installed on the control machine: systemd-nspawn needs it');
  const container = await installedVersion('systemd-container');
  if (container !== systemd) wanted.push(`systemd-container=${systemd}`);
  if (wanted.length === 0) return;

  await timed(`installed ${wanted.join(' ')}`, async () => {
    log(`installing control tools: ${wanted.join(' ')}`);
    await withoutServiceStarts(async () => {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      // Another test run may be installing at the same moment: wait for dpkg's lock, do not fail on it.
      const install = ['apt-get', 'install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300', '--no-install-recommends', '-t', 'bookworm', ...wanted];
      const r = await run(install, { env, allowFail: true, timeoutMs: 600_000 });
      if (r.code !== 0) {
        // A stale package list is the usual cause on a fresh machine.
        await run(['apt-get', 'update', '-q'], { env, timeoutMs: 300_000 });
        await run(install, { env, timeoutMs: 600_000 });
      }
    });
  });
}

/** apt-cacher-ng's postinst would start a system-wide daemon on *:3142, which
 * would take the port from the lab's own proxy. A policy-rc.d that says 101
 * ("action forbidden") is Debian's way to install without starting services;
 * we add one only if the machine has none, and remove only our own. */
async function withoutServiceStarts(fn: () => Promise<void>): Promise<void> {
  const policy = '/usr/sbin/policy-rc.d';
  if (await exists(policy)) return fn();
  await writeFile(policy, '#!/bin/sh\n# temporary, written by the mxplay lab while installing its tools\nexit 101\n', {
    mode: 0o755,
  });
  try {
    await fn();
  } finally {
    await rm(policy, { force: true });
  }
}
