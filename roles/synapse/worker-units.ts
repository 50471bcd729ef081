// A host's Synapse worker processes. The packages ship a worker unit and a target only as
// documentation, so mxplay installs its own (for the package source's Python), writes each worker's
// file, starts one unit instance per worker, restarts only what a change concerns, and retires the
// instances of workers the inventory no longer declares.
import { file, q, retiredFiles, service, yamlFile, type Readiness, type Resource } from 'mxplay';
import { CONFIG_PATHS, RUNS_CURRENT_CONFIG, SYNAPSE_USER, synapseCheck, synapseReady, type SynapseFlavour } from './fragment.ts';
import { workerConfig, type PlacedWorker } from './workers.ts';

export const WORKERS_DIR = '/etc/matrix-synapse/workers';
const TARGET = 'matrix-synapse.target';
const workerUnit = (name: string) => `matrix-synapse-worker@${name}`;
const restartWorker = (name: string) => `restart synapse worker ${name}`;

const UNIT_DIR = '/etc/systemd/system';
/** Drop-ins of the package's own unit of the main process (the role makes the folder). */
export const MAIN_DROP_INS = `${UNIT_DIR}/matrix-synapse.service.d`;
const header = '# managed by mxplay, role synapse\n';

function templateUnit(f: SynapseFlavour): string {
  return `${header}[Unit]
Description=Synapse worker %i
AssertPathExists=${WORKERS_DIR}/%i.yaml
PartOf=${TARGET}
ReloadPropagatedFrom=${TARGET}
After=network-online.target matrix-synapse.service
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
User=${SYNAPSE_USER}
Group=nogroup
WorkingDirectory=/var/lib/matrix-synapse
EnvironmentFile=-/etc/default/matrix-synapse
ExecStart=${f.python} -m synapse.app.generic_worker ${CONFIG_PATHS} --config-path=${WORKERS_DIR}/%i.yaml
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=3
SyslogIdentifier=matrix-synapse-%i

[Install]
WantedBy=${TARGET}
`;
}

const targetUnit = `${header}[Unit]
Description=Synapse: the main process and the workers of this host

[Install]
WantedBy=multi-user.target
`;

/** `systemctl restart matrix-synapse.target` restarts the main process too. */
const mainDropIn = `${header}[Unit]
PartOf=${TARGET}
`;

const unitFile = (path: string, content: string) =>
  file({ path, content, mode: 0o644, onChange: 'systemctl daemon-reload' });

/** Unit files for a host running workers (and the main process, when it runs here too). */
export function workerUnitFiles(f: SynapseFlavour, mainHere: boolean): Resource[] {
  return [
    unitFile(`${UNIT_DIR}/matrix-synapse-worker@.service`, templateUnit(f)),
    unitFile(`${UNIT_DIR}/${TARGET}`, targetUnit),
    mainHere
      ? unitFile(`${MAIN_DROP_INS}/mxplay-target.conf`, mainDropIn)
      : file({ path: `${MAIN_DROP_INS}/mxplay-target.conf`, state: 'absent', onChange: 'systemctl daemon-reload' }),
  ];
}

/**
 * A worker's /health, when it has a listener: what "restarted" waits for. Generous: at a
 * homeserver's first start a worker waits (restarting) until the main process has made the schema.
 */
function workerReady(w: PlacedWorker): Readiness {
  return w.port === undefined
    ? { active: true, timeout_s: 180 }
    : { http: `http://${w.address ? bracket(w.address) : '127.0.0.1'}:${w.port}/health`, timeout_s: 180 };
}

const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);

export function workerServices(workers: PlacedWorker[]): Resource[] {
  return [
    // Without waiting for systemd's job: until the main process has made the database's schema
    // (its first start, maybe on another host) a worker exits and its unit starts it again.
    ...workers.map((w) => service({ name: workerUnit(w.name), enabled: true, state: 'started', noBlock: true, ready: workerReady(w) })),
    service({ name: TARGET, enabled: true, state: 'started' }),
  ];
}

export function workerHandlers(workers: PlacedWorker[]): Record<string, Resource> {
  return Object.fromEntries(workers.map((w) => [restartWorker(w.name), service.restart(workerUnit(w.name), workerReady(w), { noBlock: true })]));
}

/**
 * Workers the host still runs (their files are in workers/) but the inventory no longer declares:
 * stopped, disabled and their files removed. Worker names are [a-z0-9_-], which is all the probe
 * lists: a file of another name here is not one of mxplay's workers.
 */
export function retiredWorkers(keep: string[]) {
  return retiredFiles({
    type: 'synapse-workers',
    dir: WORKERS_DIR,
    extension: '.yaml',
    keep,
    summary: (gone) => `stop, disable and remove worker${gone.length > 1 ? 's' : ''} ${gone.join(', ')}`,
    retire: (n) => `systemctl disable --now ${q(`${workerUnit(n)}.service`)} 2>/dev/null || true\nrm -f ${q(`${WORKERS_DIR}/${n}.yaml`)}`,
  });
}

/** A worker's own file, checked by Synapse together with the shared config before it stays. */
export function workerFile(w: PlacedWorker, f: SynapseFlavour): Resource {
  const path = `${WORKERS_DIR}/${w.name}.yaml`;
  return yamlFile({
    path,
    data: workerConfig(w),
    header: `managed by mxplay, role synapse: worker ${w.name} (${w.type})`,
    mode: 0o644,
    validate: `${synapseCheck(f)} -c ${path}`,
    notify: restartWorker(w.name),
  });
}

/**
 * Restart every Synapse process of this host: the main process (if here) first, then its workers.
 * `ifConfigChanged`: not when the main process alone runs here and already runs this configuration
 * (workers each read their own file too: with workers, always).
 */
export function restartSynapse(mainPort: number | undefined, workers: PlacedWorker[], o: { ifConfigChanged?: boolean } = {}): Resource {
  if (!workers.length) return service.restart('matrix-synapse', synapseReady(mainPort ?? 8008), o.ifConfigChanged ? { upToDate: RUNS_CURRENT_CONFIG } : {});
  const units = [...(mainPort !== undefined ? ['matrix-synapse'] : []), ...workers.map((w) => workerUnit(w.name))];
  return service.restart(units, [
    ...(mainPort !== undefined ? [synapseReady(mainPort)] : []),
    ...workers.map(workerReady),
  ], { noBlock: true });
}
