import { isUnresolved, type Change, type FileWrite, type Resource } from '../resources/types.ts';
import type { Connection, ExecResult } from '../transport/connection.ts';
import { logs, since, verbose } from '../log.ts';
import { UnreachableError } from '../transport/errors.ts';
import { BecomeError } from '../transport/become.ts';
import { applyScript, busyMessage, parseApplyOutput, parseProbeOutput, probeScript, scriptForLog, type ApplyStep } from './scripts.ts';
import { planItems, type HostPlan, type PlannedItem } from './plan.ts';
import { allItems, label, type HostWork, type PlayWork } from './work.ts';

/** The host failed while applying: what failed and the host's own words about it. */
export class ApplyFailure extends Error {}

export type HostEvent =
  | { kind: 'changed'; item: PlannedItem }
  /** A planned change found unneeded when it came to run: its guard (creates/unless) held by then. */
  | { kind: 'skipped'; item: PlannedItem }
  | { kind: 'handler'; name: string }
  | { kind: 'step'; text: string };

/** Probes, plans and applies one host over one connection. */
export class HostRun {
  changed = 0;
  handlersRun: string[] = [];
  /** Planned changes skipped at run time because their guard held by then: ok, not changed. */
  skippedAtRun: PlannedItem[] = [];
  /** Handlers to run at the end of the play (or at a flush), in the order first notified. */
  private notified = new Set<string>();
  /** Who notified each handler still owed (for the verbose log's handler decisions). */
  private notifiers = new Map<string, string[]>();

  constructor(
    readonly work: HostWork,
    readonly conn: Connection,
    /** A new connection to the host, for changes confirmed through one (Change.confirm). */
    private readonly reconnect?: (timeoutMs: number) => Promise<Connection>,
  ) {}

  private get name(): string {
    return this.work.host.name;
  }

  private notify(handler: string, by: string) {
    this.notified.add(handler);
    const list = this.notifiers.get(handler) ?? [];
    if (!list.includes(by)) list.push(by);
    this.notifiers.set(handler, list);
  }

  /** One round trip, logged: the script at -vv (its data elided), its exit and time. */
  private async exec(what: string, script: string): Promise<ExecResult> {
    const n = this.conn.roundTrips + 1;
    verbose(2, this.name, () => `${what} script, round trip ${n} (${Buffer.byteLength(script)} bytes):\n${scriptForLog(script)}`);
    const t0 = Date.now();
    try {
      const r = await this.conn.run(script);
      verbose(2, this.name, () => `${what} script: exit ${r.code} after ${since(t0)}, ${Buffer.byteLength(r.stdout)} bytes of output${r.stderr ? `, ${Buffer.byteLength(r.stderr)} on stderr` : ''}`);
      return r;
    } catch (e) {
      verbose(2, this.name, () => `${what} script: no result after ${since(t0)}: ${(e as Error).message}`);
      throw e;
    }
  }

  async probe(resources: Resource[], what = 'probe') {
    const r = await this.exec(what, probeScript(resources));
    // The probe's last marker: without it the probe did not run to its end (killed, a shell that
    // could not start, ...), and what it printed is no state to plan from.
    if (!/^@@mxp pending$/m.test(r.stdout)) {
      const said = r.stderr.trim().slice(-2000);
      throw new ApplyFailure(`the probe failed (exit ${r.code})${said ? `: ${said}` : ', with nothing on stderr'}`);
    }
    return parseProbeOutput(r.stdout, resources, r.stderr);
  }

  /** One round trip: every resource of every play of this host, plus pending handlers. */
  async plan(): Promise<HostPlan> {
    const items = allItems(this.work);
    const t0 = Date.now();
    const probed = await this.probe(items.map((i) => i.resource));
    verbose(1, this.name, `probe: ${items.length} resource(s) in ${since(t0)}`);
    // Its state is half-way through another apply: planning from it would be planning from nothing.
    if (probed.busy !== undefined) return { host: this.work.host.name, items: [], errors: [busyMessage(probed.busy)], pendingHandlers: [] };
    const planned = planItems(items, probed.states, probed.errors);
    for (const n of probed.pending) this.notify(n, 'an earlier run (pending on the host)');
    if (probed.pending.length) verbose(1, this.name, `handlers pending from an earlier run: ${probed.pending.join(', ')}`);
    return { host: this.work.host.name, ...planned, pendingHandlers: probed.pending };
  }

  async applyPlay(plan: HostPlan, playIndex: number, emit: (e: HostEvent) => void): Promise<void> {
    const items = plan.items.filter((p) => p.item.play === playIndex);
    const playWork = this.work.plays.find((p) => p.play.index === playIndex)!;
    let cursor = 0;
    while (cursor < items.length) {
      const it = items[cursor]!;
      if (it.item.resource.marker === 'flush_handlers') {
        await this.runHandlers(playWork, emit, false);
        cursor++;
      } else if (it.status === 'ok') {
        cursor++;
      } else if (it.status === 'deferred') {
        await this.resolveDeferred(items, cursor);
      } else {
        let end = cursor;
        while (end < items.length && (items[end]!.status === 'change' || (items[end]!.status === 'ok' && !items[end]!.item.resource.marker))) {
          // A change to confirm ends its batch: nothing runs after it until it is confirmed.
          if (items[end++]!.change?.confirm) break;
        }
        await this.applyBatch(items.slice(cursor, end).filter((p) => p.status === 'change'), emit);
        cursor = end;
      }
    }
    await this.runHandlers(playWork, emit, true);
  }

  /** Re-probe a run of '?' items now that the changes before them are applied. */
  private async resolveDeferred(items: PlannedItem[], from: number) {
    let to = from;
    while (to < items.length && items[to]!.status === 'deferred') to++;
    const run = items.slice(from, to);
    const t0 = Date.now();
    const probed = await this.probe(run.map((p) => p.item.resource), 'probe again');
    verbose(1, this.name, () => `probed again ${run.length} item(s) known only after earlier changes, in ${since(t0)}: ${run.map((p) => label(p.item.resource)).join(', ')}`);
    let changedBefore = false;
    for (let j = 0; j < run.length; j++) {
      const p = run[j]!;
      const r = p.item.resource;
      const err = probed.errors[j];
      if (err) throw new ApplyFailure(`${label(r)}: ${err}`);
      const result = r.plan(probed.states[j]);
      if (isUnresolved(result)) {
        if (changedBefore) break; // waits on an item of this same run: probe it again after that one
        throw new ApplyFailure(`${label(r)}: ${result.unresolved} (still, after the changes before it)`);
      }
      delete p.reason;
      if (result === null) p.status = 'ok';
      else {
        p.status = 'change';
        p.change = result;
        changedBefore = true;
      }
    }
  }

  private async applyBatch(batch: PlannedItem[], emit: (e: HostEvent) => void) {
    if (!batch.length) return;
    const steps: ApplyStep[] = [];
    const groups: { command: string; members: PlannedItem[] }[] = [];
    batch.forEach((p, id) => {
      const v = p.item.resource.validate;
      const last = groups.at(-1);
      const prev = batch[id - 1];
      let group: number | undefined;
      if (v) {
        if (last && prev?.item.resource.validate === v) last.members.push(p);
        else groups.push({ command: v, members: [p] });
        group = groups.length - 1;
      }
      steps.push(new ChangeStep(id, p.change!, p.item.resource.notify, group));
      const next = batch[id + 1];
      if (v && next?.item.resource.validate !== v) {
        const g = groups[group!]!;
        steps.push({ kind: 'validate', group: group!, command: v, notify: [...new Set(g.members.flatMap((m) => m.item.resource.notify))] });
      }
    });
    const t0 = Date.now();
    const { res, out } = await this.runApply(steps, 'apply');
    verbose(1, this.name, () => `apply: ${batch.length} change(s) in ${since(t0)}${out.failed ? ` (failed at ${out.failed.step})` : ''}: ${batch.map((p) => label(p.item.resource)).join(', ')}`);
    const groupOf = (id: number) => {
      const s = steps.find((x) => x.kind === 'change' && x.id === id);
      return s && s.kind === 'change' ? s.group : undefined;
    };
    batch.forEach((p, id) => {
      if (out.skipped.has(id)) {
        this.skippedAtRun.push(p);
        emit({ kind: 'skipped', item: p });
        return;
      }
      const g = groupOf(id);
      const applied = out.ok.has(id) && (g === undefined || out.valid.has(g));
      if (!applied) return;
      this.changed++;
      p.item.resource.notify.forEach((n) => this.notify(n, label(p.item.resource)));
      emit({ kind: 'changed', item: p });
    });
    if (out.failed) {
      const { step, code, output, rolledBack } = out.failed;
      if (step.startsWith('validate:')) {
        const g = groups[Number(step.slice(9))]!;
        throw new ApplyFailure(
          `validation failed (${g.command}), exit ${code}:\n${output}\n` +
            `${rolledBack ? 'The previous files were restored' : 'Nothing was swapped in'}; nothing was restarted. Files: ${g.members.map((m) => m.item.resource.id).join(', ')}`,
        );
      }
      const item = batch[Number(step)]!;
      throw new ApplyFailure(`${label(item.item.resource)}: failed with exit ${code}${output ? `:\n${output}` : ''}${rolledBack ? '\n(files of its validation set were restored)' : ''}`);
    }
    if (!out.done || res.code !== 0) {
      throw new ApplyFailure(`apply script ended unexpectedly (exit ${res.code})${res.stderr ? `: ${res.stderr.trim().slice(-2000)}` : ''}`);
    }
    const last = batch.at(-1)!;
    if (last.change!.confirm && out.ok.has(batch.length - 1)) await this.confirm(last);
  }

  /** Confirm an applied change over a fresh connection (see Change.confirm). */
  private async confirm(p: PlannedItem) {
    const c = p.change!.confirm!;
    const what = `${label(p.item.resource)} (${p.change!.summary})`;
    const t0 = Date.now();
    let conn: Connection | undefined;
    try {
      if (!this.reconnect) throw new Error('this run cannot open another connection');
      conn = await this.reconnect(c.timeoutMs);
      const r = await conn.run(c.script);
      if (r.code !== 0) throw new Error(`the confirmation exited ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-1000)}` : ''}`);
      verbose(1, this.name, `confirmed ${what} over a new connection in ${since(t0)}`);
    } catch (e) {
      throw new ApplyFailure(`${what}: a new connection through it failed after ${since(t0)}: ${(e as Error).message}. ${c.failed}`);
    } finally {
      await conn?.close().catch(() => {});
    }
  }

  /** An apply script is read whole before it starts and runs to its end even if the connection drops (scripts.ts). Its output, parsed. */
  private async runApply(steps: ApplyStep[], what: string) {
    try {
      const res = await this.exec(what, applyScript(steps));
      const out = parseApplyOutput(res.stdout);
      if (out.busy !== undefined) throw new ApplyFailure(busyMessage(out.busy));
      return { res, out };
    } catch (e) {
      if (e instanceof BecomeError) throw new ApplyFailure(e.message);
      if (!(e instanceof UnreachableError)) throw e;
      throw new UnreachableError(
        `${e.message} while applying. The changes sent are applied whole or not at all, and the handlers they notify stay pending on the host: run again to converge.`,
      );
    }
  }

  /** `endOfPlay`: the play's last handler run (else a flush_handlers in its middle). */
  private async runHandlers(playWork: PlayWork, emit: (e: HostEvent) => void, endOfPlay: boolean) {
    const handlers = playWork.handlers;
    const where = endOfPlay ? `end of play "${playWork.play.name}"` : `flush_handlers in play "${playWork.play.name}"`;
    const by = (n: string) => this.notifiers.get(n)?.join(', ') ?? 'an earlier step';
    const names = [...this.notified].filter((n) => handlers.has(n));
    if (logs(1)) {
      for (const n of names) verbose(1, this.name, `handler ${n}: runs (${where}), notified by ${by(n)}`);
      for (const n of [...this.notified].filter((x) => !handlers.has(x))) {
        verbose(1, this.name, `handler ${n}: notified by ${by(n)}, but play "${playWork.play.name}" does not define it: stays pending for a later play`);
      }
      if (endOfPlay) for (const n of [...handlers.keys()].filter((x) => !this.notified.has(x))) verbose(1, this.name, `handler ${n}: skipped, not notified`);
    }
    if (!names.length) return;
    const t0 = Date.now();
    const resources = names.map((n) => handlers.get(n)!);
    const probed = await this.probe(resources, 'handlers probe');
    const steps: ApplyStep[] = [];
    names.forEach((name, id) => {
      const r = resources[id]!;
      const err = probed.errors[id];
      if (err) throw new ApplyFailure(`handler ${name}: ${err}`);
      const p = r.plan(probed.states[id]);
      if (p === null) {
        verbose(1, this.name, `handler ${name}: ${label(r)} is already as it should be: nothing to run, marked done`);
        steps.push({ kind: 'handler', id, name, script: 'true' });
      } else if (isUnresolved(p)) throw new ApplyFailure(`handler ${name}: ${p.unresolved}`);
      else steps.push({ kind: 'handler', id, name, script: p.script });
    });
    const { res, out } = await this.runApply(steps, 'handlers');
    verbose(1, this.name, () => `handlers: ${names.length} in ${since(t0)}${out.failed ? ` (${names[Number(out.failed.step)] ?? out.failed.step} failed)` : ''}: ${names.join(', ')}`);
    names.forEach((name, id) => {
      if (!out.ok.has(id)) return;
      this.notified.delete(name);
      this.notifiers.delete(name);
      this.handlersRun.push(name);
      emit({ kind: 'handler', name });
    });
    if (out.failed) {
      throw new ApplyFailure(`handler ${names[Number(out.failed.step)]}: failed with exit ${out.failed.code}:\n${out.failed.output}\n(it stays pending and runs on the next run)`);
    }
    if (!out.done) throw new ApplyFailure(`handlers script ended unexpectedly (exit ${res.code}): ${res.stderr.trim().slice(-2000)}`);
  }

  /** Handlers still owed after the run (notified, but no play of this host defines them). */
  leftoverHandlers(): string[] {
    return [...this.notified];
  }
}

/**
 * A change as a step of the apply script. A class, not a literal with a getter: V8 keeps such
 * literals in its slow dictionary form, and an apply holds one per change.
 */
class ChangeStep {
  readonly kind = 'change' as const;
  constructor(
    readonly id: number,
    private readonly change: Change,
    readonly notify: string[],
    readonly group: number | undefined,
  ) {}

  /** Read only if the step runs as shell: a batch (write) never makes a file's script. */
  get script(): string {
    return this.change.script;
  }

  get guard(): string | undefined {
    return this.change.guard;
  }

  get write(): FileWrite | undefined {
    return this.change.write;
  }
}
