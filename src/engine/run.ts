import { openConnection } from '../transport/open.ts';
import { UnreachableError } from '../transport/errors.ts';
import { connectRetriesOf } from '../transport/startup.ts';
import type { Connection } from '../transport/connection.ts';
import type { Playbook } from '../playbook/playbook.ts';
import type { HostNote } from '../resources/types.ts';
import { since, verbose } from '../log.ts';
import { ApplyFailure, HostRun, type HostEvent } from './host.ts';
import { countChanges, type HostPlan } from './plan.ts';
import { pool, serialBatches } from './pool.ts';
import { label, type HostWork } from './work.ts';
import { sourceMapped } from '../stack-trace.ts';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'skipped';

export interface HostResult {
  host: string;
  status: HostStatus;
  ok: number;
  changed: number;
  /** Planned changes skipped when they came to run, their guard (creates/unless) holding by then: counted in ok. */
  skippedAtRun?: string[];
  message?: string;
  handlers: string[];
  roundTrips: number;
  /** Connection attempts retried after sshd closed them before the handshake (MaxStartups); absent when none. */
  connectRetries?: number;
  /** Lines the host's report resources read from its probe (backup health, ...); absent when none. */
  notes?: HostNote[];
  seconds: number;
}

/** What the engine tells the interface as it goes; the UI decides how to show it. */
export interface RunReporter {
  phase(host: string, text: string): void;
  event(host: string, e: HostEvent): void;
  hostDone(r: HostResult): void;
}

export interface Session {
  runs: Map<string, HostRun>;
  plans: Map<string, HostPlan>;
  results: Map<string, HostResult>;
  started: Map<string, number>;
  /** Per host, the connection set-up's retries (transport/startup.ts), when there were any. */
  connectRetries?: Map<string, number>;
}

const connect = (w: HostWork): Promise<Connection> => openConnection(w.host.name, w.params);

function result(s: Session, host: string, status: HostStatus, message?: string): HostResult {
  const run = s.runs.get(host);
  const plan = s.plans.get(host);
  const changed = run?.changed ?? 0;
  const skipped = run?.skippedAtRun.map((p) => label(p.item.resource)) ?? [];
  const notes = plan?.items.flatMap((p) => p.item.resource.report?.(p.state) ?? []) ?? [];
  const r: HostResult = {
    host,
    status,
    ok: (plan ? plan.items.filter((p) => p.status === 'ok' && !p.item.resource.marker).length : 0) + skipped.length,
    changed,
    ...(skipped.length ? { skippedAtRun: skipped } : {}),
    handlers: run?.handlersRun ?? [],
    roundTrips: run?.conn.roundTrips ?? 0,
    ...(s.connectRetries?.get(host) ? { connectRetries: s.connectRetries.get(host)! } : {}),
    ...(notes.length ? { notes } : {}),
    seconds: (Date.now() - (s.started.get(host) ?? Date.now())) / 1000,
    ...(message ? { message } : {}),
  };
  s.results.set(host, r);
  verbose(1, host, `${status}: ${r.roundTrips} round trip${r.roundTrips === 1 ? '' : 's'}${r.connectRetries ? `, ${r.connectRetries} connection retr${r.connectRetries === 1 ? 'y' : 'ies'}` : ''}, ${r.seconds.toFixed(3)}s in all${r.changed ? `, ${r.changed} changed` : ''}${r.handlers.length ? `, handlers run: ${r.handlers.join(', ')}` : ''}`);
  return r;
}

/** Connect to every host and plan it: one connection and one probing round trip per host. */
export async function planAll(works: HostWork[], forks: number, rep: RunReporter): Promise<Session> {
  const s: Session = { runs: new Map(), plans: new Map(), results: new Map(), started: new Map(), connectRetries: new Map() };
  await pool(works, forks, async (w) => {
    const name = w.host.name;
    s.started.set(name, Date.now());
    try {
      rep.phase(name, 'connecting');
      let t0 = Date.now();
      const conn = await connect(w);
      const retries = connectRetriesOf(conn);
      if (retries) s.connectRetries?.set(name, retries);
      verbose(1, name, `connected in ${since(t0)} (${w.params.connection}${w.params.become ? `, become ${w.params.becomeUser ?? 'root'}` : ''}${retries ? `, after ${retries} retr${retries === 1 ? 'y' : 'ies'}` : ''})`);
      const run = new HostRun(w, conn, (timeoutMs) => connect({ ...w, params: { ...w.params, connectTimeoutMs: Math.min(w.params.connectTimeoutMs, timeoutMs) } }));
      s.runs.set(name, run);
      rep.phase(name, 'probing');
      t0 = Date.now();
      const plan = await run.plan();
      s.plans.set(name, plan);
      verbose(1, name, `planned in ${since(t0)}: ${countChanges(plan)} change(s)${plan.errors.length ? `, ${plan.errors.length} error(s)` : ''}`);
      if (plan.errors.length) rep.hostDone(result(s, name, 'failed', plan.errors.join('\n')));
      else rep.phase(name, `planned ${countChanges(plan)} change(s)`);
    } catch (e) {
      const status = e instanceof UnreachableError ? 'unreachable' : 'failed';
      if (connectRetriesOf(e)) s.connectRetries?.set(name, connectRetriesOf(e));
      verbose(1, name, `${status} after ${since(s.started.get(name)!)} while connecting or planning`);
      rep.hostDone(result(s, name, status, (e as Error).message));
    }
  });
  return s;
}

/**
 * Apply the approved plans: play by play, hosts in `serial` batches. A batch past its play's
 * max_fail_percentage stops the whole run, as in Ansible: no later batch or play is started.
 */
export async function applyAll(pb: Playbook, works: HostWork[], s: Session, forks: number, rep: RunReporter): Promise<void> {
  let aborted: string | undefined;
  // Hosts that could not be reached or planned still count against
  // max_fail_percentage, once, in the first batch they belong to (as an
  // unreachable host does in Ansible): a rolling restart with one host down
  // must not carry on as if it were healthy.
  const failedAtPlan = new Set(s.results.keys());
  for (const play of pb.plays) {
    const hosts = works
      .filter((w) => w.plays.some((p) => p.play.index === play.index))
      .map((w) => w.host.name)
      .filter((h) => !s.results.has(h) || failedAtPlan.has(h));
    const batches = serialBatches(hosts, play.serial);
    if (batches.length > 1) verbose(1, undefined, `play "${play.name}": ${batches.length} batches of hosts (serial ${play.serial})`);
    for (const batch of batches) {
      let failed = batch.filter((h) => failedAtPlan.delete(h)).length;
      const toApply = batch.filter((h) => !s.results.has(h));
      if (aborted) {
        for (const h of toApply) rep.hostDone(result(s, h, 'skipped', aborted));
        continue;
      }
      await pool(toApply, forks, async (h) => {
        const run = s.runs.get(h)!;
        const t0 = Date.now();
        try {
          rep.phase(h, `applying ${play.name}`);
          await run.applyPlay(s.plans.get(h)!, play.index, (e) => rep.event(h, e));
          verbose(1, h, `play "${play.name}" applied in ${since(t0)}`);
        } catch (e) {
          verbose(1, h, `play "${play.name}" stopped after ${since(t0)}`);
          failed++;
          const status = e instanceof UnreachableError ? 'unreachable' : 'failed';
          const msg = e instanceof ApplyFailure || e instanceof UnreachableError ? e.message : (e as Error).stack ? sourceMapped((e as Error).stack!) : String(e);
          rep.hostDone(result(s, h, status, msg));
        }
      });
      if ((failed / batch.length) * 100 > play.maxFailPercentage) {
        verbose(1, undefined, `play "${play.name}": ${failed} of ${batch.length} host(s) of the batch failed, over max_fail_percentage ${play.maxFailPercentage}: the run stops here`);
        aborted = `not run: the run stopped after ${failed} of ${batch.length} host${batch.length === 1 ? '' : 's'} of a batch of "${play.name}" failed (max_fail_percentage ${play.maxFailPercentage})`;
      }
    }
  }
  for (const w of works) {
    const h = w.host.name;
    if (s.results.has(h)) continue;
    const run = s.runs.get(h)!;
    const left = run.leftoverHandlers();
    const status = run.changed > 0 || run.handlersRun.length ? 'changed' : 'ok';
    rep.hostDone(result(s, h, status, left.length ? `handlers notified but defined by no play here: ${left.join(', ')}` : undefined));
  }
}

/** After a check (or nothing to do), every reached host is done as it is. */
export function finishUnapplied(works: HostWork[], s: Session, rep: RunReporter): void {
  for (const w of works) if (!s.results.has(w.host.name)) rep.hostDone(result(s, w.host.name, 'ok'));
}

/** Hosts left out of the apply (declined at --step): reported skipped, with why. */
export function skipHosts(works: HostWork[], s: Session, rep: RunReporter, reason: string): void {
  for (const w of works) if (!s.results.has(w.host.name)) rep.hostDone(result(s, w.host.name, 'skipped', reason));
}

export async function closeAll(s: Session): Promise<void> {
  await Promise.all([...s.runs.values()].map((r) => r.conn.close().catch(() => {})));
}
