// apt-cacher-ng as the lab's own process (not the system service): its own
// config, cache and logs under the state dir, listening only on the bridge.
// The cache stays between runs so later runs install from disk.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GATEWAY_IP, LOG_DIR, PROXY_CACHE_DIR, PROXY_DIR, PROXY_PORT } from './config.ts';
import { run, tail } from './exec.ts';
import { log } from './log.ts';
import { ensureNetwork } from './network.ts';
import { portAnswers } from './ports.ts';
import { findProcesses, isProcess, spawnDetached, terminate } from './proc.ts';
import { GiveUp, pollUntil } from './wait.ts';

const CONF_DIR = join(PROXY_DIR, 'conf');
const PID_FILE = join(PROXY_DIR, 'pid');
const OUT_LOG = join(LOG_DIR, 'apt-cacher-ng.out.log');
const PROXY_LOG_DIR = join(PROXY_DIR, 'log');
/** Our instance is recognised by its config dir on the command line. */
const SIGNATURE = ['-c', CONF_DIR];

const CONFIG = `# Written by test/lab/proxy.ts; rewritten on every start.
CacheDir: ${PROXY_CACHE_DIR}
LogDir: ${PROXY_LOG_DIR}
SupportDir: /usr/lib/apt-cacher-ng
BindAddress: ${GATEWAY_IP}
Port: ${PROXY_PORT}
# The packaged default backend (ftp.debian.org) does not resolve here; the
# Debian mirror that answers is deb.debian.org.
Remap-debrep: deb.debian.org/debian ftp.debian.org/debian ; http://deb.debian.org/debian/
ReportPage: acng-report.html
ExThreshold: 4
`;

async function recordedPid(): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(PID_FILE, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface ProxyStatus {
  pid?: number;
  running: boolean;
  answering: boolean;
  url: string;
}

export async function proxyStatus(): Promise<ProxyStatus> {
  const pid = await recordedPid();
  const running = await isProcess(pid, SIGNATURE);
  return {
    pid: running ? pid : undefined,
    running,
    answering: await portAnswers(GATEWAY_IP, PROXY_PORT, 500),
    url: `http://${GATEWAY_IP}:${PROXY_PORT}`,
  };
}

export async function ensureAptProxy(): Promise<void> {
  await ensureNetwork();
  const pid = await recordedPid();
  if (await isProcess(pid, SIGNATURE)) {
    if (await portAnswers(GATEWAY_IP, PROXY_PORT)) return;
    // Ours but deaf (e.g. the bridge address was re-added under it): restart.
    await terminate(pid!, 'apt-cacher-ng', 5_000);
  }
  if (await portAnswers(GATEWAY_IP, PROXY_PORT)) {
    const who = await run(['ss', '-ltnpH', `sport = :${PROXY_PORT}`], { allowFail: true });
    throw new Error(
      `${GATEWAY_IP}:${PROXY_PORT} is already taken by a process that is not the lab's apt-cacher-ng ` +
        `(the system apt-cacher-ng service?); stop it and retry:\n${who.stdout.trim()}`,
    );
  }
  await mkdir(CONF_DIR, { recursive: true });
  await mkdir(PROXY_CACHE_DIR, { recursive: true });
  await mkdir(PROXY_LOG_DIR, { recursive: true });
  await mkdir(LOG_DIR, { recursive: true });
  await writeFile(join(CONF_DIR, 'acng.conf'), CONFIG);
  const newPid = spawnDetached(['apt-cacher-ng', ...SIGNATURE, 'ForeGround=1'], OUT_LOG);
  await writeFile(PID_FILE, `${newPid}\n`);
  log(`apt-cacher-ng started (pid ${newPid}) on ${GATEWAY_IP}:${PROXY_PORT}`);
  await pollUntil(
    async () => {
      if (!(await isProcess(newPid, SIGNATURE))) throw new GiveUp('apt-cacher-ng exited');
      return portAnswers(GATEWAY_IP, PROXY_PORT, 500);
    },
    {
      what: `apt-cacher-ng to answer on ${GATEWAY_IP}:${PROXY_PORT}`,
      timeoutMs: 15_000,
      explain: async () => `${OUT_LOG} (tail):\n${tail(await readFile(OUT_LOG, 'utf8').catch(() => ''), 20)}`,
    },
  );
}

/** Stops our apt-cacher-ng, including one whose pid file was lost. */
export async function stopAptProxy(): Promise<void> {
  const pid = await recordedPid();
  if (await isProcess(pid, SIGNATURE)) await terminate(pid!, 'apt-cacher-ng', 10_000);
  for (const stray of await findProcesses(SIGNATURE)) await terminate(stray, 'apt-cacher-ng', 10_000);
  await rm(PID_FILE, { force: true });
}
