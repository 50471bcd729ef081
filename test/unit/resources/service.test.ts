import { describe, expect, it } from 'vitest';
import { planService, readinessScript, service, type ServiceOptions, type ServiceState } from '../../../src/resources/service.ts';
import type { Change } from '../../../src/resources/types.ts';
import { expectPlan, type Expected } from '../helpers.ts';

const st = (ActiveState: string, UnitFileState: string): ServiceState => ({ LoadState: 'loaded', ActiveState, UnitFileState });

describe('planService', () => {
  const rows: { name: string; o: Partial<ServiceOptions>; s: ServiceState; want: Expected }[] = [
    { name: 'running (default state started): no-op', o: {}, s: st('active', 'enabled'), want: null },
    { name: 'stopped: started, with status on failure', o: {}, s: st('inactive', 'enabled'), want: { action: '~', summary: 'start', has: ['systemctl start nginx || { systemctl status --no-pager -n 30 nginx >&2; exit 1; }'] } },
    { name: 'failed counts as not running', o: {}, s: st('failed', 'enabled'), want: { action: '~', summary: 'start' } },
    { name: 'activating counts as running', o: {}, s: st('activating', 'enabled'), want: null },
    { name: 'enable a disabled, running unit', o: { enabled: true }, s: st('active', 'disabled'), want: { action: '~', summary: 'enable', has: ['systemctl enable nginx'], lacks: ['start'] } },
    { name: 'enable and start', o: { enabled: true }, s: st('inactive', 'disabled'), want: { action: '~', summary: 'enable, start', has: ['systemctl enable nginx', 'systemctl start nginx'] } },
    { name: 'enabled: a static unit needs no enabling', o: { enabled: true }, s: st('active', 'static'), want: null },
    { name: 'disable an enabled unit', o: { enabled: false }, s: st('active', 'enabled'), want: { action: '~', summary: 'disable', has: ['systemctl disable nginx'] } },
    { name: 'disable: a static unit cannot be disabled, no-op', o: { enabled: false }, s: st('active', 'static'), want: null },
    { name: 'enabled unspecified: enablement left alone', o: {}, s: st('active', 'disabled'), want: null },
    { name: 'stop a running unit', o: { state: 'stopped' }, s: st('active', 'enabled'), want: { action: '~', summary: 'stop', has: ['systemctl stop nginx'], lacks: ['start'] } },
    { name: 'stopped already: no-op', o: { state: 'stopped' }, s: st('inactive', 'enabled'), want: null },
    { name: 'disable and stop', o: { state: 'stopped', enabled: false }, s: st('active', 'enabled'), want: { action: '~', summary: 'disable, stop', has: ['systemctl disable nginx', 'systemctl stop nginx'] } },
    { name: 'unit not found: unresolved (its package may install it)', o: {}, s: { LoadState: 'not-found', ActiveState: 'inactive', UnitFileState: '' }, want: { unresolved: 'unit nginx not found' } },
    { name: 'nothing probed (no systemd answer): unresolved', o: {}, s: {}, want: { unresolved: 'unit nginx not found' } },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planService({ name: 'nginx', ...o }, s), want));

  it('a start waits for readiness when `ready` is given, after the start', () => {
    const c = planService({ name: 'synapse', ready: { http: 'http://127.0.0.1:8008/health', timeout_s: 30 } }, st('inactive', 'enabled')) as Change;
    expect(c.script.indexOf('systemctl start synapse')).toBeLessThan(c.script.indexOf('curl'));
    expect(c.script).toContain("curl -ks -o /dev/null -w '%{http_code}' http://127.0.0.1:8008/health");
    expect(c.script).toContain('+ 30 ))');
    expect(c.script).toContain('journalctl -u synapse');
  });

  it('no readiness check when the unit is already running or when not asked for', () => {
    expect(planService({ name: 'x', ready: { tcp: '127.0.0.1:5432' } }, st('active', 'enabled'))).toBeNull();
    expect((planService({ name: 'x' }, st('inactive', 'enabled')) as Change).script).not.toMatch(/until|curl|dev\/tcp/);
  });
});

describe('readinessScript', () => {
  it('tcp readiness runs under bash (/dev/tcp) and defaults to 60 s', () => {
    const s = readinessScript('postgresql', { tcp: '127.0.0.1:5432' });
    expect(s).toContain("bash -c '(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null'");
    expect(s).toContain('+ 60 ))');
    expect(s).toContain('postgresql did not become ready within 60s');
  });
  it('is empty without a check', () => {
    expect(readinessScript('x', undefined)).toBe('');
    expect(readinessScript('x', { timeout_s: 5 })).toBe('');
  });
});

describe('service.restart / service.reload handlers', () => {
  const rows: { name: string; r: ReturnType<typeof service.restart>; s: ServiceState; want: Expected }[] = [
    { name: 'restart a running unit', r: service.restart('nginx'), s: st('active', 'enabled'), want: { action: '~', summary: 'restart', has: ['systemctl restart nginx ||'] } },
    { name: 'restart a stopped unit: start it instead', r: service.restart('nginx'), s: st('inactive', 'enabled'), want: { action: '~', summary: 'start (was not running)', has: ['systemctl start nginx'], lacks: ['restart'] } },
    { name: 'reload a running unit', r: service.reload('nginx'), s: st('active', 'enabled'), want: { action: '~', summary: 'reload', has: ['systemctl reload nginx'] } },
    { name: 'reload a stopped unit: start it', r: service.reload('nginx'), s: st('failed', 'enabled'), want: { action: '~', summary: 'start (was not running)', has: ['systemctl start nginx'] } },
    { name: 'unit not found', r: service.restart('nginx'), s: { LoadState: 'not-found' }, want: { unresolved: 'unit nginx not found' } },
    { name: 'restart with readiness', r: service.restart('synapse', { tcp: '127.0.0.1:8008' }), s: st('active', 'enabled'), want: { action: '~', summary: 'restart', has: ['systemctl restart synapse', '/dev/tcp/127.0.0.1/8008'] } },
  ];
  it.each(rows)('$name', ({ r, s, want }) => expectPlan(r.plan(s), want));

  it('a handler is named after its action and notifies nothing', () => {
    const r = service.restart('nginx');
    expect(r).toMatchObject({ type: 'handler', id: 'restart nginx', notify: [], tags: [] });
  });

  it('service() probes systemctl show for the three properties', () => {
    expect(service({ name: 'nginx' }).probe).toContain('systemctl show -p LoadState -p ActiveState -p UnitFileState nginx');
  });
});
