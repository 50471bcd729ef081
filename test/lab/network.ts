// The lab bridge: a private segment between the control machine and its lab
// hosts only. No forwarding, no NAT, no default route for the hosts: they
// reach nothing but each other and the control machine (apt via our proxy).
import { BRIDGE, GATEWAY_IP, PREFIX_LEN, SUBNET } from './config.ts';
import { run, succeeds } from './exec.ts';
import { log } from './log.ts';

const GUARD_METRIC = '4242';

export async function bridgeExists(): Promise<boolean> {
  return succeeds(['ip', 'link', 'show', 'dev', BRIDGE]);
}

/** The bridge's IPv4 addresses ("10.231.0.1/24"), empty if none or no bridge. */
export async function bridgeAddresses(): Promise<string[]> {
  const r = await run(['ip', '-j', '-4', 'addr', 'show', 'dev', BRIDGE], { allowFail: true });
  if (r.code !== 0) return [];
  const ifaces = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return ifaces.flatMap((i) => (i.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
}

/** Lab addresses must never leave this machine. While the bridge is up its
 * own route wins (metric 0); without the bridge (after `down`, or before the
 * first `up`) this route makes any connection to a lab address fail at once
 * with "No route to host" instead of going out through the default route.
 * It is kept after `down` on purpose: it is what makes e.g. a playbook run
 * against a stopped lab harmless. */
export async function ensureSubnetGuard(): Promise<void> {
  await run(['ip', 'route', 'replace', 'unreachable', SUBNET, 'metric', GUARD_METRIC]);
}

export async function subnetGuarded(): Promise<boolean> {
  const r = await run(['ip', 'route', 'show', 'type', 'unreachable', SUBNET], { allowFail: true });
  return r.stdout.trim() !== '';
}

export async function ensureNetwork(): Promise<void> {
  await ensureSubnetGuard();
  if (!(await bridgeExists())) {
    log(`creating bridge ${BRIDGE} ${GATEWAY_IP}/${PREFIX_LEN}`);
    await run(['ip', 'link', 'add', 'name', BRIDGE, 'type', 'bridge']);
  }
  // `replace` is idempotent; it also repairs a bridge left without its address.
  await run(['ip', 'addr', 'replace', `${GATEWAY_IP}/${PREFIX_LEN}`, 'dev', BRIDGE]);
  await run(['ip', 'link', 'set', 'dev', BRIDGE, 'up']);
}

export async function removeNetwork(): Promise<void> {
  if (await bridgeExists()) await run(['ip', 'link', 'del', 'dev', BRIDGE]);
}

/** A host restarted on a reused IP has a new MAC; the control machine's stale
 * neighbour entry would make the first SSH wait ~70 s before re-resolving. */
export async function flushNeighbour(ip: string): Promise<void> {
  if (await bridgeExists()) await run(['ip', 'neigh', 'flush', 'dev', BRIDGE, 'to', ip], { allowFail: true });
}
