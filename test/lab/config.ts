// Every path, address and name the lab uses, in one place, so the CLI, the
// e2e fixture and the inventory agree without passing settings around.
import { join } from 'node:path';

/** Everything the lab keeps on disk. Under /var/lib (not the repo) because the
 * base rootfs and the apt cache are large, root-owned and shared by every
 * checkout on this machine. Overridable for experiments only. */
export const STATE_DIR = process.env.MXPLAY_LAB_STATE_DIR ?? '/var/lib/mxplay-lab';

export const BASE_DIR = join(STATE_DIR, 'base');
/** debootstrap works here; renamed to BASE_DIR only once complete, so a crash
 * mid-build never leaves a base that looks usable. */
export const BASE_BUILD_DIR = join(STATE_DIR, 'base.build');
export const BASE_MARKER = join(BASE_DIR, '.mxplay-lab-base.json');
export const HOSTS_DIR = join(STATE_DIR, 'hosts');
export const KEY_FILE = join(STATE_DIR, 'id_ed25519');
export const KNOWN_HOSTS_FILE = join(STATE_DIR, 'known_hosts');
export const LOG_DIR = join(STATE_DIR, 'logs');
/** Held while hosts are claimed (names, addresses) and while the shared
 * pieces are taken down. */
export const LAB_LOCK = join(STATE_DIR, 'lab.lock');

export const SUITE = 'sid';
export const MIRROR = 'http://deb.debian.org/debian';

export const BRIDGE = 'labbr0';
export const GATEWAY_IP = '10.231.0.1';
export const PREFIX_LEN = 24;
export const SUBNET = `10.231.0.0/${PREFIX_LEN}`;
const SUBNET_PREFIX = '10.231.0.';

export const PROXY_PORT = 3142;
export const PROXY_URL = `http://${GATEWAY_IP}:${PROXY_PORT}`;
export const PROXY_DIR = join(STATE_DIR, 'apt-cacher-ng');
/** Kept across runs so later runs install from a warm cache. */
export const PROXY_CACHE_DIR = join(PROXY_DIR, 'cache');

/** Every lab host also answers to NAME.lab.test (in every host's /etc/hosts). */
export const DOMAIN = 'lab.test';

/** Default hosts of `npm run lab -- up`: lab1..labN at .11, .12, ... */
export function defaultHost(index: number): { name: string; ip: string } {
  return { name: `lab${index}`, ip: `${SUBNET_PREFIX}${10 + index}` };
}
export const DEFAULT_HOST_COUNT = 3;
export const MAX_DEFAULT_HOSTS = 40;

/** Test fixtures take free addresses from this range, clear of lab1..lab40. */
export const FIXTURE_IP_FIRST = 100;
export const FIXTURE_IP_LAST = 250;
export function subnetIp(lastOctet: number): string {
  return `${SUBNET_PREFIX}${lastOctet}`;
}
export function isLabIp(ip: string): boolean {
  const m = /^10\.231\.0\.(\d{1,3})$/.exec(ip);
  const n = m ? Number(m[1]) : NaN;
  return n >= 2 && n <= 254;
}

/** Host names become machine names, hostnames and (prefixed) veth names:
 * keep them short and DNS-safe. */
export function assertHostName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(name)) {
    throw new Error(`lab host name ${JSON.stringify(name)}: use 1-20 of a-z, 0-9, '-', starting with a letter`);
  }
}

export function hostPaths(name: string) {
  const dir = join(HOSTS_DIR, name);
  return {
    dir,
    record: join(dir, 'host.json'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    root: join(dir, 'root'),
    docker: join(dir, 'docker'),
    console: join(LOG_DIR, `${name}.console.log`),
  };
}
