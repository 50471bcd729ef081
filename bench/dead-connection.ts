// How long until mxplay reports a host whose connection went dead mid-run. Killing the host's sshd
// session would not do: its kernel closes the TCP connection at once (FIN/RST) and any client
// notices in a millisecond. A dead connection is one that goes silent: a host that hangs, a cable
// pulled, a NAT that forgets. That is made here by taking the host's port on the lab bridge down
// (its veth on the control machine's side): from then on every packet either way is dropped, with
// no reset and no ICMP, exactly as on a pulled cable. The host itself keeps running.
//
// mxplay runs a one-step playbook (`sleep 47` on the host); once the sleep runs, the link goes
// down, and the time to mxplay's exit with the host reported failed is the figure. The link comes
// back up afterwards and the sleep is ended.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { BRIDGE } from '../test/lab/index.ts';
import { sshRetry, type BenchLab } from './hosts.ts';
import { log, must, sleep, timed } from './proc.ts';
import type { DeadConnection } from './results.ts';
import { BIN, type MxplayJson } from './tools.ts';

const SLEEP_S = 47;

async function bridgePort(host: string): Promise<string> {
  const r = await must('ip', ['-j', 'link', 'show', 'master', BRIDGE]);
  const names = (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname);
  const want = `vb-${host}`.slice(0, 15);
  const found = names.find((n) => n === want);
  if (!found) throw new Error(`no bridge port ${want} for ${host} on ${BRIDGE} (have ${names.join(', ')})`);
  return found;
}

export async function measureDeadConnection(lab: BenchLab, host: string, inventory: string, work: string, timeoutS = 150): Promise<DeadConnection> {
  const dir = join(work, 'dead');
  mkdirSync(dir, { recursive: true });
  const playbook = join(dir, 'dead.yml');
  writeFileSync(playbook, stringify([{
    name: 'a step that takes long',
    hosts: 'bench',
    tasks: [{ name: 'long step', command: { cmd: `sleep ${SLEEP_S}`, creates: '/var/lib/benchapp/.never' } }],
  }]));
  const port = await bridgePort(host);
  let cutAt = 0;
  let down = false;
  const run = timed(process.execPath, [BIN, 'run', playbook, '-i', inventory, '--yes', '--json'], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs: (SLEEP_S + timeoutS) * 1000,
  });
  let done = false;
  void run.finally(() => (done = true));
  try {
    // wait until the step runs on the host, then pull the cable
    for (let i = 0; !done; i++) {
      const r = await lab.ssh(host, `pgrep -fx 'sleep ${SLEEP_S}' >/dev/null`, { connectTimeoutS: 3, timeoutMs: 10_000 });
      if (r.code === 0) break;
      if (i > 300) throw new Error(`dead connection: the step never started on ${host}`);
      await sleep(100);
    }
    if (done) throw new Error(`dead connection: mxplay ended before the link could be cut:\n${(await run).stderr}`);
    await must('ip', ['link', 'set', 'dev', port, 'down']);
    cutAt = performance.now();
    down = true;
    log(`dead connection: ${host}'s link (${port}) is down while mxplay runs \`sleep ${SLEEP_S}\` there; waiting for mxplay to report it`);
    const r = await run;
    const reportedS = (performance.now() - cutAt) / 1000;
    let message = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? '';
    let failed = r.code !== 0;
    try {
      const res = (JSON.parse(r.stdout) as MxplayJson).results.find((x) => x.host === host);
      if (res) {
        failed = res.status === 'failed' || res.status === 'unreachable';
        message = `${res.status}: ${res.message ?? message}`;
      }
    } catch {
      /* no JSON: killed by the timeout, or failed before printing it */
    }
    // the process ran out its time (killed): nothing reported within it
    const timedOut = r.code === 137 || r.code === 128 || reportedS >= SLEEP_S + timeoutS - 1;
    log(`dead connection: mxplay exited ${r.code} after ${reportedS.toFixed(1)} s: ${message.split('\n')[0]}`);
    return {
      host,
      reportedS: failed && !timedOut ? reportedS : null,
      message: message.split('\n')[0]!.slice(0, 300),
      exitCode: r.code,
      timeoutS,
    };
  } finally {
    if (down) await must('ip', ['link', 'set', 'dev', port, 'up']);
    await run.catch(() => undefined);
    await sleep(500);
    await sshRetry(lab, host, `pkill -fx 'sleep ${SLEEP_S}'; true`);
  }
}
