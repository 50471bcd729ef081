// A host's part in its homeserver: the topology seen from here, whether the main process runs
// here, and the secrets every process of the homeserver shares.
import { createHash } from 'node:crypto';
import { UserError, type TaskContext } from 'mxplay';
import { homeserverTopology } from './workers.ts';

type SynapseVars = {
  synapse_main_host?: string;
  synapse_db_password?: string;
  synapse_registration_shared_secret?: string;
  synapse_macaroon_secret_key?: string;
  synapse_form_secret?: string;
  synapse_redis_host?: string;
  synapse_redis_password?: string;
  synapse_worker_replication_secret?: string;
  synapse_signing_key?: string;
};

/**
 * This host's part of its homeserver, and the homeserver's secrets. Derived secrets are the main
 * host's (scope): every host of the homeserver derives the same ones, and a homeserver that grows
 * from one host keeps those it has.
 */
export function homeserver(v: SynapseVars, ctx: TaskContext) {
  const topology = homeserverTopology(ctx, v.synapse_main_host);
  const mainHere = topology.mainHost === ctx.host;
  const localWorkers = topology.workers.filter((w) => w.host === ctx.host);
  if (!mainHere && !localWorkers.length) {
    throw new UserError(`this host names ${topology.mainHost} as its main host (synapse_main_host) but runs no worker: declare its synapse_workers, or run the synapse role elsewhere`, { host: ctx.host, key: 'synapse_workers' });
  }
  if (!mainHere) sameSharedConfig(ctx, topology.mainHost);
  const workers = topology.workers.length > 0;
  if (workers && !v.synapse_redis_host && topology.multiHost) {
    throw new UserError('workers on several hosts meet through Redis: set synapse_redis_host (the host of the redis role, as the Synapse hosts reach it)', { host: ctx.host, key: 'synapse_redis_host' });
  }
  const derived = (name: keyof SynapseVars) => v[name] ?? ctx.derivedSecret(name, topology.mainHost);
  const secrets = {
    db: derived('synapse_db_password'),
    registration: derived('synapse_registration_shared_secret'),
    macaroon: derived('synapse_macaroon_secret_key'),
    form: derived('synapse_form_secret'),
    replication: workers ? derived('synapse_worker_replication_secret') : undefined,
    redis: workers ? derived('synapse_redis_password') : undefined,
    // Every host running a Synapse process signs as the same server (a proxy elsewhere does not sign).
    signingKey: topology.workers.some((w) => w.host !== topology.mainHost) ? (v.synapse_signing_key ?? signingKeyFrom(ctx.derivedSecret('synapse_signing_key', topology.mainHost))) : undefined,
  };
  return { topology, mainHere, localWorkers, secrets, redisHost: v.synapse_redis_host ?? '127.0.0.1' };
}

/** Settings of one host alone; every other synapse_* value is in the config all processes share. */
const PER_HOST = new Set(['synapse_main_host', 'synapse_workers', 'synapse_internal_address', 'synapse_admin_user', 'synapse_admin_password', 'synapse_db_manage']);

/**
 * Every process of a homeserver reads the same shared config, so a worker host's synapse_* values
 * (this role's and the other Synapse roles') must be the main host's: a difference is refused,
 * rather than two hosts running one homeserver with two configs.
 */
function sameSharedConfig(ctx: TaskContext, mainHost: string): void {
  const here = ctx.inventoryVars(ctx.host) ?? {};
  const main = ctx.inventoryVars(mainHost) ?? {};
  const keys = new Set([...Object.keys(here), ...Object.keys(main)].filter((k) => k.startsWith('synapse_') && !PER_HOST.has(k)));
  for (const k of [...keys].sort()) {
    if (JSON.stringify(here[k]) === JSON.stringify(main[k])) continue;
    const set = (o: Record<string, unknown>) => (k in o ? 'set' : 'not set');
    throw new UserError(
      `${k} differs between this host (${set(here)}) and ${mainHost}, the main host (${set(main)}): ` +
        "the homeserver's processes share one config; set it once for all its hosts (a group variable)",
      { host: ctx.host, key: k },
    );
  }
}

/** A Synapse signing key file made from a derived secret: the same on every host, stable across runs. */
function signingKeyFrom(seed: string): string {
  const key = createHash('sha256').update(`synapse signing key\0${seed}`).digest('base64').replace(/=+$/, '');
  const id = createHash('sha256').update(`synapse signing key id\0${seed}`).digest('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 6);
  return `ed25519 a_${id} ${key}\n`;
}
