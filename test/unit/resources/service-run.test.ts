import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planService, readinessScript, service, serviceProbe } from '../../../src/resources/service.ts';
import type { Change } from '../../../src/resources/types.ts';
import { fakeBin, sh } from '../helpers.ts';

/** A script run by /bin/sh without blocking this process (the server under test answers meanwhile). */
function run(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    const p = spawn('/bin/sh', ['-c', script], { env: { ...process.env, ...env } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('close', (code) => done({ code: code ?? -1, stderr }));
  });
}

describe('readiness, run for real', () => {
  let server: Server;
  let port = 0;
  let status = 200;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(status).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  // journalctl may be missing here: the fake one stands for it.
  const bin = () => fakeBin({ journalctl: 'echo "journal of $2"', systemctl: '[ "$1 $2" = "is-active --quiet" ] && [ "$3" = up ]' });
  const env = () => ({ PATH: `${bin()}:${process.env.PATH}` });

  it.each([200, 302, 404])('http: an answer %i is ready', async (code) => {
    status = code;
    expect((await run(readinessScript('web', { http: `http://127.0.0.1:${port}/health` }), env())).code).toBe(0);
  });

  it('http: a 5xx until the deadline fails, naming the unit and showing its log', async () => {
    status = 503;
    const r = await run(readinessScript('web', { http: `http://127.0.0.1:${port}/`, timeout_s: 1 }), env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('web did not become ready within 1s');
    expect(r.stderr).toContain('journal of web');
  });

  it('tcp: a listening port is ready; a closed one fails at the deadline', async () => {
    expect((await run(readinessScript('db', { tcp: `127.0.0.1:${port}` }), env())).code).toBe(0);
    const closed = await run(readinessScript('db', { tcp: '127.0.0.1:1', timeout_s: 1 }), env());
    expect(closed.code).toBe(1);
    expect(closed.stderr).toContain('db did not become ready within 1s');
  });

  it('active: the unit must be active', async () => {
    expect((await run(readinessScript('up', { active: true }), env())).code).toBe(0);
    expect((await run(readinessScript('down', { active: true, timeout_s: 1 }), env())).code).toBe(1);
  });
});

describe('the service probe, run against a fake systemctl', () => {
  it.each([
    ['a unit', 'LoadState=loaded\nActiveState=active\nUnitFileState=enabled', { LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' }],
    ['no such unit', 'LoadState=not-found\nActiveState=inactive\nUnitFileState=', { LoadState: 'not-found', ActiveState: 'inactive', UnitFileState: '' }],
  ])('%s', (_n, out, want) => {
    const bin = fakeBin({ systemctl: `printf '%s\\n' '${out.split('\n').join("' '")}'` });
    const r = sh(serviceProbe('my unit'), { fakeBin: bin });
    expect(JSON.parse(r.stdout)).toEqual(want);
    expect(service({ name: 'x' }).probe).toBe(serviceProbe('x'));
  });
});

describe('starting and restarting', () => {
  const stopped = { LoadState: 'loaded', ActiveState: 'inactive', UnitFileState: 'enabled' };
  const running = { ...stopped, ActiveState: 'active' };

  it('noBlock starts without waiting for the job; readiness decides', () => {
    const c = planService({ name: 'w', noBlock: true, ready: { active: true } }, stopped) as Change;
    expect(c.script).toContain('systemctl start --no-block w ||');
    expect(c.script).toContain('systemctl is-active --quiet w');
  });

  it('several units restart in one call, each waited for, the last readiness for the rest', () => {
    const r = service.restart(['a', 'b', 'c'], [{ tcp: '127.0.0.1:1' }, { tcp: '127.0.0.1:2' }], { noBlock: true });
    expect(r.id).toBe('restart a b c');
    const c = r.plan(stopped) as Change;
    expect(c.script.split('\n')[0]).toBe('systemctl restart --no-block a b c || { systemctl status --no-pager -n 30 a >&2; exit 1; }');
    expect(c.script).toContain('/dev/tcp/127.0.0.1/1');
    expect(c.script).toContain("'b did not become ready within 60s'");
    expect(r.plan(running)).toMatchObject({ summary: 'restart' });
  });

  it('one stopped unit is started, not restarted; a reload is never a restart', () => {
    expect((service.restart('a').plan(stopped) as Change).script).toMatch(/^systemctl start a \|\|/);
    expect((service.reload('a', { active: true }).plan(running) as Change).script).toMatch(/^systemctl reload a \|\|[^\n]*\n[\s\S]*is-active --quiet a/);
    expect(service.reload('a').plan({})).toEqual({ unresolved: 'unit a not found' });
  });

  it('the default state is started; stopped leaves a stopped unit alone', () => {
    expect(planService({ name: 'a', state: 'started' }, stopped)).toMatchObject({ summary: 'start' });
    expect(planService({ name: 'a', state: 'stopped' }, stopped)).toBeNull();
    expect(service({ name: 'a', notify: 'n' })).toMatchObject({ type: 'service', id: 'a', notify: ['n'] });
    expect(service({ name: 'a' }).plan(stopped)).toMatchObject({ summary: 'start' });
  });

  it.each(['enabled-runtime', 'alias', 'indirect', 'generated'])('%s counts as enabled', (UnitFileState) => {
    expect(planService({ name: 'a', enabled: true }, { ...running, UnitFileState })).toBeNull();
    expect(planService({ name: 'a', enabled: false }, { ...running, UnitFileState })).toMatchObject({ summary: 'disable' });
  });

  it('reloading counts as running', () => {
    expect(planService({ name: 'a' }, { ...running, ActiveState: 'reloading' })).toBeNull();
  });
});
