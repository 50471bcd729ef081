import { q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

/** How to know a (re)started service really serves: poll with a deadline, never sleep blindly. */
export interface Readiness {
  /** URL that must answer 2xx/3xx/4xx (anything but a refused connection or 5xx). */
  http?: string;
  /** host:port that must accept TCP connections. */
  tcp?: string;
  /** The unit itself must be active (for Type=notify: it said it is ready). */
  active?: boolean;
  timeout_s?: number;
}

export interface ServiceOptions extends ResourceCommon {
  name: string;
  enabled?: boolean;
  state?: 'started' | 'stopped';
  ready?: Readiness;
  /**
   * Start without waiting for systemd's job: for a unit that restarts itself until it can run
   * (a worker waiting for its main process on another host); `ready` decides, with its deadline.
   */
  noBlock?: boolean;
}

export interface ServiceState {
  LoadState?: string;
  ActiveState?: string;
  UnitFileState?: string;
  /** A handler's `upToDate` condition, read when the handler comes to run: 'yes' or 'no'. */
  UpToDate?: string;
}

/** A handler not needed when this shell condition holds at its run (the service already runs what it should). */
export interface UpToDate {
  check: string;
}

const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated']);
const RUNNING = new Set(['active', 'activating', 'reloading']);

/** Shell that waits until the service answers, or fails with its recent log. */
export function readinessScript(name: string, r: Readiness | undefined): string {
  if (!r || (!r.http && !r.tcp && !r.active)) return '';
  const deadline = r.timeout_s ?? 60;
  const check = r.http
    ? `curl -ks -o /dev/null -w '%{http_code}' ${q(r.http)} 2>/dev/null | grep -q '^[234]'`
    : r.tcp ? `(exec 3<>/dev/tcp/${r.tcp.replace(':', '/')}) 2>/dev/null` : `systemctl is-active --quiet ${q(name)}`;
  const shell = r.tcp ? 'bash -c ' : ''; // /dev/tcp is a bash feature
  const test = shell ? `${shell}${q(check)}` : check;
  return [
    `t=$(( $(date +%s) + ${deadline} ))`,
    `until ${test}; do`,
    `  if [ "$(date +%s)" -ge "$t" ]; then echo ${q(`${name} did not become ready within ${deadline}s`)} >&2; journalctl -u ${q(name)} -n 30 --no-pager >&2 2>/dev/null; exit 1; fi`,
    `  sleep 0.2`,
    'done',
  ].join('\n');
}

function failWithStatus(cmd: string, name: string): string {
  return `${cmd} || { systemctl status --no-pager -n 30 ${q(name)} >&2; exit 1; }`;
}

export function planService(o: ServiceOptions, s: ServiceState): PlanResult {
  if (!s.LoadState || s.LoadState === 'not-found') return { unresolved: `unit ${o.name} not found` };
  const n = q(o.name);
  const steps: string[] = [];
  const why: string[] = [];
  if (o.enabled === true && !ENABLED.has(s.UnitFileState ?? '')) {
    steps.push(`systemctl enable ${n}`);
    why.push('enable');
  } else if (o.enabled === false && ENABLED.has(s.UnitFileState ?? '') && s.UnitFileState !== 'static') {
    steps.push(`systemctl disable ${n}`);
    why.push('disable');
  }
  const running = RUNNING.has(s.ActiveState ?? '');
  if ((o.state ?? 'started') === 'started' && !running) {
    steps.push(failWithStatus(`systemctl start ${o.noBlock ? '--no-block ' : ''}${n}`, o.name));
    const ready = readinessScript(o.name, o.ready);
    if (ready) steps.push(ready);
    why.push('start');
  } else if (o.state === 'stopped' && running) {
    steps.push(`systemctl stop ${n}`);
    why.push('stop');
  }
  if (!steps.length) return null;
  return { action: '~', summary: why.join(', '), script: steps.join('\n') };
}

export function serviceProbe(name: string): string {
  return `systemctl show -p LoadState -p ActiveState -p UnitFileState ${q(name)} 2>/dev/null | sed 's/^\\([A-Za-z]*\\)=\\(.*\\)$/"\\1":"\\2"/' | paste -sd, | sed 's/^/{/;s/$/}/'`;
}

export function service(o: ServiceOptions): Resource<ServiceState> {
  return { type: 'service', id: o.name, probe: serviceProbe(o.name), plan: (s) => planService(o, s), ...common(o) };
}

/**
 * Handler actions: always a change when notified; a stopped service is started instead. Several
 * units restart in one systemctl call (their units' ordering applies), each waited for.
 */
function action(verb: 'restart' | 'reload', names: string | string[], ready?: Readiness | Readiness[], opts: { noBlock?: boolean; upToDate?: UpToDate } = {}): Resource<ServiceState> {
  const units = typeof names === 'string' ? [names] : names;
  const name = units[0]!;
  const readies = ready === undefined ? [] : Array.isArray(ready) ? ready : [ready];
  return {
    type: 'handler',
    id: `${verb} ${units.join(' ')}`,
    probe: opts.upToDate ? withUpToDate(serviceProbe(name), opts.upToDate) : serviceProbe(name),
    plan(s) {
      if (!s.LoadState || s.LoadState === 'not-found') return { unresolved: `unit ${name} not found` };
      const running = RUNNING.has(s.ActiveState ?? '');
      // Handlers are probed when they come to run: after the changes that notified them.
      if (opts.upToDate && running && s.UpToDate === 'yes') return null;
      const all = units.map(q).join(' ');
      // restart starts a stopped unit too; reload needs it running.
      const nb = opts.noBlock ? '--no-block ' : '';
      const cmd = running || (verb === 'restart' && units.length > 1) ? `systemctl ${verb} ${nb}${all}` : `systemctl start ${nb}${all}`;
      return {
        action: '~',
        summary: running ? verb : 'start (was not running)',
        script: [failWithStatus(cmd, name), ...readies.map((r, i) => readinessScript(units[Math.min(i, units.length - 1)]!, r))].filter(Boolean).join('\n'),
      };
    },
    notify: [],
    tags: [],
  };
}

/** The service probe's JSON with UpToDate added: the condition's verdict, whatever it prints. */
function withUpToDate(probe: string, u: UpToDate): string {
  return `s=$(${probe}); if ( ${u.check}\n) >/dev/null 2>&1; then u=yes; else u=no; fi; printf '%s\\n' "$s" | sed "s/}\\$/,\\"UpToDate\\":\\"$u\\"}/;s/^{,/{/"`;
}

service.restart = (name: string | string[], ready?: Readiness | Readiness[], opts?: { noBlock?: boolean; upToDate?: UpToDate }) => action('restart', name, ready, opts);
service.reload = (name: string, ready?: Readiness) => action('reload', name, ready);
