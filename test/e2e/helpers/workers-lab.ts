// A homeserver on three lab hosts, as the workers e2e test and the workers benchmark both build it:
// PostgreSQL and Redis on `db`, the main process and the proxy on `main`, workers on `work`. The
// project uses the repository's own playbooks/site.yml and an inventory folder with host_vars.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LabFixture } from '../../lab/index.ts';

export interface WorkersLab {
  db: string;
  main: string;
  work: string;
}

export interface WorkerDecl {
  name: string;
  type: string;
  serves?: string[];
  streams?: string[];
  port?: number;
  settings?: Record<string, unknown>;
}

export const WORKERS_SERVER = 'workers.lab.test';
export const WORKERS_MATRIX = `matrix.${WORKERS_SERVER}`;

/** Writes site.yml and inventory/ (hosts.yml, host_vars/) into the project folder. */
export async function writeWorkersProject(
  lab: LabFixture,
  project: string,
  h: WorkersLab,
  o: {
    masterSecret: string; dbPassword: string; pypiUrl: string; proxy?: 'nginx' | 'apache'; vars?: Record<string, unknown>;
    /** the worker host runs Synapse (default: yes) */
    workHost?: boolean;
  },
): Promise<void> {
  const ip = (n: string) => lab.host(n).ip;
  await copyFile(new URL('../../../playbooks/site.yml', import.meta.url), join(project, 'site.yml'));
  await lab.writeInventory(join(project, 'inventory'), {
    mxplay_master_secret: o.masterSecret,
    synapse_package_source: 'debian',
    synapse_server_name: WORKERS_SERVER,
    synapse_public_baseurl: `https://${WORKERS_MATRIX}/`,
    synapse_main_host: h.main,
    synapse_db_host: ip(h.db),
    synapse_db_password: o.dbPassword,
    synapse_db_manage: false,
    synapse_redis_host: ip(h.db),
    synapse_pip_index_url: o.pypiUrl,
    proxy_tls_self_signed: true,
    ...o.vars,
  }, { database: [h.db], redis: [h.db], synapse: o.workHost === false ? [h.main] : [h.main, h.work], [o.proxy ?? 'nginx']: [h.main] });
  await mkdir(join(project, 'inventory', 'host_vars'), { recursive: true });
  await writeFile(join(project, 'inventory', 'host_vars', `${h.db}.yml`), stringify({
    postgres_listen_addresses: '*',
    postgres_users: [{ name: 'synapse', password: '{{ synapse_db_password }}' }],
    postgres_databases: [{ name: 'synapse', owner: 'synapse' }],
    postgres_hba: [h.main, h.work].map((n) => ({ database: 'synapse', user: 'synapse', address: ip(n) })),
    redis_bind_addresses: ['127.0.0.1', ip(h.db)],
  }));
}

/** The worker host's declaration, written as an admin edits host_vars. */
export function setWorkers(project: string, host: string, workers: WorkerDecl[]): Promise<void> {
  return writeFile(join(project, 'inventory', 'host_vars', `${host}.yml`), stringify({ synapse_workers: workers }));
}

/** Moves the main host from one proxy role's group to the other's. */
export async function switchProxy(project: string, from: 'nginx' | 'apache', to: 'nginx' | 'apache'): Promise<void> {
  const inv = join(project, 'inventory', 'hosts.yml');
  const text = await readFile(inv, 'utf8');
  const next = text.replace(new RegExp(`\\n {4}${from}:\\n`), `\n    ${to}:\n`);
  if (next === text) throw new Error(`switchProxy: no group ${from} in ${inv}`);
  await writeFile(inv, next);
}
