import type { HostEvent } from '../engine/host.ts';
import type { HostResult, RunReporter } from '../engine/run.ts';
import type { SecretRegistry } from '../secrets/registry.ts';

export interface Progress extends RunReporter {
  /** End this phase's display: hosts still running it are shown as done. */
  close(): Promise<void>;
}

function describe(e: HostEvent): string {
  if (e.kind === 'changed') {
    const r = e.item.item.resource;
    return `${e.item.change?.action ?? '~'} ${r.type} ${r.id}`;
  }
  if (e.kind === 'skipped') {
    const r = e.item.item.resource;
    return `= ${r.type} ${r.id}: not run, its guard holds now (an earlier step of this run made it true)`;
  }
  if (e.kind === 'handler') return `handler ${e.name}`;
  return e.text;
}

/** Plain lines for logs and CI: one line per step, prefixed with the host. */
export function plainProgress(out: NodeJS.WritableStream, secrets: SecretRegistry, quiet = false): Progress {
  const say = (host: string, text: string) => !quiet && out.write(secrets.mask(`[${host}] ${text}\n`));
  return {
    phase: say,
    event: (h, e) => say(h, describe(e)),
    hostDone: (r: HostResult) => say(r.host, r.status === 'ok' || r.status === 'changed' ? r.status : `${r.status}: ${r.message?.split('\n')[0] ?? ''}`),
    close: async () => {},
  };
}

/** listr2's live per-host display, for terminals. Loaded only when used: it costs start-up time. */
export async function liveProgress(title: string, hosts: string[], secrets: SecretRegistry): Promise<Progress> {
  const mask = (t: string) => secrets.mask(t);
  const { Listr } = await import('listr2');
  type Slot = { setTitle(t: string): void; output(t: string): void; finish(err?: Error): void };
  const slots = new Map<string, Slot>();
  const early = new Map<string, ((s: Slot) => void)[]>();
  const withSlot = (host: string, f: (s: Slot) => void) => {
    const s = slots.get(host);
    if (s) f(s);
    else early.set(host, [...(early.get(host) ?? []), f]);
  };
  const list = new Listr(
    hosts.map((host) => ({
      title: host,
      task: (_ctx: unknown, task: { title: string; output: string }) =>
        new Promise<void>((resolve, reject) => {
          const slot: Slot = {
            setTitle: (t) => (task.title = mask(t)),
            output: (t) => (task.output = mask(t)),
            finish: (err) => (err ? reject(err) : resolve()),
          };
          slots.set(host, slot);
          for (const f of early.get(host) ?? []) f(slot);
        }),
    })),
    { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
  );
  const running = list.run().catch(() => {});
  const finished = new Set<string>();
  process.stderr.write(`${title}\n`);
  return {
    phase: (h, t) => withSlot(h, (s) => s.output(t)),
    event: (h, e) => withSlot(h, (s) => s.output(describe(e))),
    hostDone: (r) => {
      finished.add(r.host);
      withSlot(r.host, (s) => {
        s.setTitle(`${r.host}: ${r.status}${r.changed ? ` (${r.changed} changed)` : ''}`);
        s.finish(r.status === 'ok' || r.status === 'changed' ? undefined : new Error(mask(r.message?.split('\n')[0] ?? r.status)));
      });
    },
    close: async () => {
      for (const h of hosts) if (!finished.has(h)) withSlot(h, (s) => s.finish());
      await running;
    },
  };
}
