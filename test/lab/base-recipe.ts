// What goes into the base rootfs: the packages and everything written into
// it after debootstrap. base.ts hashes this file's text into the base's
// recipe, so any edit here rebuilds the base on the next `up`; keep other
// code out of this file. (The file text, not Function#toString: tsx and
// vitest transform code differently and must agree on the hash.)
//
// What differs per host (name, address, machine-id, SSH host keys,
// /etc/hosts) is not here: host.ts writes it into each host's overlay.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MIRROR, PROXY_URL, SUITE } from './config.ts';
import { run } from './exec.ts';

/** Packages on top of minbase: an init, SSH, what roles commonly need to run
 * at all (python3, ca-certificates, curl, sudo) and small tools for checking
 * and debugging a host (ip, ps, ping). */
export const INCLUDES = [
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'python3',
  'ca-certificates',
  'iproute2',
  'procps',
  'curl',
  'sudo',
  'iputils-ping',
];

/** A non-root user with passwordless sudo and the lab key, so the runner's
 * become/sudo path can be tested against a real host too. */
export const SUDO_USER = 'mxplay';

/** Writes `content` at `path` inside `root`, creating parent directories. */
async function put(root: string, path: string, content: string, mode = 0o644): Promise<void> {
  const full = join(root, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, content);
  await chmod(full, mode);
}

const chroot = (root: string, ...argv: string[]) => run(['chroot', root, ...argv], { timeoutMs: 120_000 });

export async function configureBase(root: string, publicKey: string): Promise<void> {
  // Identity is per host: an empty machine-id makes systemd treat each host's
  // own (written at start) as authoritative; shared SSH host keys would make
  // every host look like the same machine to known_hosts.
  await put(root, 'etc/machine-id', '');
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  await run(['sh', '-c', `rm -f ${join(root, 'etc/ssh')}/ssh_host_*`]);
  await put(root, 'etc/hostname', 'localhost\n');

  // apt: through the lab proxy (the hosts have no route anywhere else), and
  // accept the mirror's snapshot Release files whose Valid-Until has passed.
  await rm(join(root, 'etc/apt/sources.list'), { force: true });
  await put(
    root,
    'etc/apt/sources.list.d/debian.sources',
    `Types: deb\nURIs: ${MIRROR}\nSuites: ${SUITE}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );
  await put(root, 'etc/apt/apt.conf.d/01mxplay-lab-proxy', `Acquire::http::Proxy "${PROXY_URL}";\n`);
  await put(
    root,
    'etc/apt/apt.conf.d/02mxplay-lab-snapshot',
    'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n',
  );
  // dpkg on a lab host: no fsync for every file it unpacks (a lab host is thrown away, never
  // powered off mid-install), and no manuals, docs or translations (no role reads them). Installs
  // are most of an e2e file's time; one postgresql + matrix-synapse + nginx install took 178 s
  // instead of 309 s on a loaded machine.
  await put(root, 'etc/dpkg/dpkg.cfg.d/01mxplay-lab-unsafe-io', 'force-unsafe-io\n');
  await put(root, 'etc/dpkg/dpkg.cfg.d/02mxplay-lab-nodoc',
    'path-exclude=/usr/share/man/*\npath-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\npath-exclude=/usr/share/locale/*\n');
  await chroot(root, 'sh', '-c', "echo 'man-db man-db/auto-update boolean false' | debconf-set-selections");

  // These timers fire right after boot and hold the dpkg lock for the first
  // minute, which would make the first apt run of a test wait or fail.
  await chroot(root, 'systemctl', 'mask', 'apt-daily.timer', 'apt-daily-upgrade.timer');

  // Network: systemd-networkd on the veth end nspawn calls host0; the address
  // itself is a per-host drop-in. No DHCP, no router advertisements, no DNS.
  await put(
    root,
    'etc/systemd/network/10-host0.network',
    '[Match]\nName=host0\n\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n',
  );
  await chroot(root, 'systemctl', 'enable', 'systemd-networkd.service');
  // No DNS server is reachable: an empty resolv.conf makes lookups of unknown
  // names fail at once instead of timing out. Lab names are in /etc/hosts.
  await put(root, 'etc/resolv.conf', '# mxplay lab: no DNS; lab host names are in /etc/hosts\n');

  // SSH: key only, for root and for the sudo user.
  await put(
    root,
    'etc/ssh/sshd_config.d/mxplay-lab.conf',
    'PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n',
  );
  await put(root, 'root/.ssh/authorized_keys', `${publicKey}\n`, 0o600);
  await chmod(join(root, 'root/.ssh'), 0o700);
  await chroot(root, 'useradd', '--create-home', '--shell', '/bin/bash', SUDO_USER);
  await put(root, `home/${SUDO_USER}/.ssh/authorized_keys`, `${publicKey}\n`, 0o600);
  await chroot(root, 'chown', '-R', `${SUDO_USER}:${SUDO_USER}`, `/home/${SUDO_USER}/.ssh`);
  await chmod(join(root, `home/${SUDO_USER}/.ssh`), 0o700);
  await put(root, `etc/sudoers.d/mxplay-lab`, `${SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`, 0o440);

  await chroot(root, 'apt-get', 'clean');
  // apt's binary cache of the package lists, built once here: `clean` removes it, and every host's
  // first apt command would otherwise rebuild it, about 3 s of CPU each (a third of installing a
  // small package). It stays valid while the lists it was built from are unchanged.
  await chroot(root, 'apt-cache', 'gencaches');

  // Without this, every host's first boot runs ldconfig.service,
  // systemd-journal-catalog-update and systemd-update-done
  // (ConditionNeedsUpdate: /usr is newer than /etc/.updated). ldconfig
  // re-creates library symlinks while other units start, and a unit whose
  // executor is exec'd in that window fails with "Failed to spawn executor:
  // No such file or directory": about one boot in fifteen came up degraded
  // (user-sessions, journal-flush, networkd-persistent-storage...). Running
  // ldconfig once here and then marking /etc and /var as up to date (last,
  // so nothing touches /usr after it) skips those units at boot. (The journal
  // catalog is left unbuilt: minbase drops the translated catalogs, which
  // makes `journalctl --update-catalog` fail, and nothing in the lab needs it.)
  await chroot(root, 'ldconfig');
  await chroot(root, '/usr/lib/systemd/systemd-update-done');
}
