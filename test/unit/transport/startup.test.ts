// Connection set-up under sshd's MaxStartups (src/transport/startup.ts), as pure logic: which
// failures are retried, the backoff schedule, the per-endpoint slots, the retry driver.
import { describe, expect, it } from 'vitest';
import type { HostResult } from '../../../src/engine/run.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { UnreachableError } from '../../../src/transport/errors.ts';
import { renderRecap } from '../../../src/ui/recap.ts';
import {
  backoffSchedule,
  connectRetriesOf,
  endpointKey,
  jittered,
  RefusedBeforeHandshake,
  refusedBeforeHandshake,
  setUpPaced,
  STARTUP_BACKOFF,
  StartupGaveUp,
  StartupSlots,
} from '../../../src/transport/startup.ts';

const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);

describe('which failed set-ups are retried', () => {
  // [what, the error, the server's identification line seen, retried]
  const table: [string, unknown, boolean, boolean][] = [
    ['ssh2: closed before the server said anything (MaxStartups)', err('Connection lost before handshake', { level: 'protocol' }), false, true],
    ['ssh2: reset while our identification line was on its way', err('read ECONNRESET', { code: 'ECONNRESET', level: 'client-socket' }), false, true],
    ['a write to the closed socket', err('write EPIPE', { code: 'EPIPE', level: 'client-socket' }), false, true],
    ['node-ssh: closed without an error', err('No response from server', { code: 'ETIMEDOUT' }), false, true],
    ["OpenSSH's words for it", err('kex_exchange_identification: Connection closed by remote host'), false, true],
    ["OpenSSH's words, reset", err('kex_exchange_identification: read: Connection reset by peer'), false, true],
    ['a reset after the server identified itself (a server going away)', err('read ECONNRESET', { code: 'ECONNRESET' }), true, false],
    ['lost after the identification line', err('Connection lost before handshake'), true, false],
    ['authentication failed', err('All configured authentication methods failed', { level: 'client-authentication' }), true, false],
    ['a host key refused', err('Handshake failed: host key verification failed', { level: 'handshake' }), true, false],
    ['no common algorithm', err('Handshake failed: no matching key exchange algorithm', { level: 'handshake' }), true, false],
    ['a host that is down: handshake timeout', err('Timed out while waiting for handshake', { level: 'client-timeout' }), false, false],
    ['keep-alive timeout', err('Keepalive timeout', { level: 'client-timeout' }), false, false],
    ['TCP refused (nothing listening)', err('connect ECONNREFUSED 10.0.0.5:22', { code: 'ECONNREFUSED' }), false, false],
    ['no route', err('connect EHOSTUNREACH 10.0.0.5:22', { code: 'EHOSTUNREACH' }), false, false],
    ['not an error', 'Connection lost before handshake', false, false],
    ['nothing', null, false, false],
  ];
  it.each(table)('%s', (_what, e, sawIdent, retried) => {
    expect(refusedBeforeHandshake(e, sawIdent)).toBe(retried);
  });
});

describe('backoff', () => {
  it('doubles from 0.2 s, the last delay cut so they add up to about 10 s', () => {
    const s = backoffSchedule(STARTUP_BACKOFF);
    expect(s).toEqual([200, 400, 800, 1600, 3200, 3800]);
    expect(s.reduce((a, b) => a + b, 0)).toBe(10_000);
  });
  it('drops a remainder shorter than the first delay; an empty budget retries nothing', () => {
    expect(backoffSchedule({ firstMs: 200, factor: 2, budgetMs: 700 })).toEqual([200, 400]);
    expect(backoffSchedule({ firstMs: 100, factor: 3, budgetMs: 1300 })).toEqual([100, 300, 900]);
    expect(backoffSchedule({ firstMs: 200, factor: 2, budgetMs: 0 })).toEqual([]);
  });
  it('jitter spreads a delay over [0.5, 1.5) of it', () => {
    expect(jittered(400, () => 0)).toBe(200);
    expect(jittered(400, () => 0.5)).toBe(400);
    expect(jittered(400, () => 0.999)).toBe(600);
  });
});

describe('endpoint keys', () => {
  it('name the sshd by the way it is reached', () => {
    expect(endpointKey([{ address: '10.0.0.5', port: 22 }])).toBe('10.0.0.5:22');
    expect(endpointKey([{ address: 'bastion', port: 2222 }, { address: '10.0.0.5', port: 22 }])).toBe('bastion:2222 > 10.0.0.5:22');
    expect(endpointKey([{ address: 'fd00::5', port: 22 }])).toBe('[fd00::5]:22');
    // The same private address behind two bastions: two servers, two keys.
    expect(endpointKey([{ address: 'b1', port: 22 }, { address: '10.0.0.5', port: 22 }])).not.toBe(endpointKey([{ address: 'b2', port: 22 }, { address: '10.0.0.5', port: 22 }]));
  });
});

const tick = () => new Promise((r) => setImmediate(r));

describe('startup slots', () => {
  it('let `limit` in per key, the others wait in order; keys are independent', async () => {
    const slots = new StartupSlots(2);
    const order: string[] = [];
    const releases = new Map<string, () => void>();
    const take = (key: string, who: string) =>
      void slots.acquire(key).then((r) => {
        order.push(who);
        releases.set(who, r);
      });
    for (const who of ['a1', 'a2', 'a3', 'a4']) take('A', who);
    take('B', 'b1');
    await tick();
    expect(order).toEqual(['a1', 'a2', 'b1']);
    expect([slots.inUse('A'), slots.waiting('A'), slots.inUse('B')]).toEqual([2, 2, 1]);
    releases.get('a2')!();
    releases.get('a2')!(); // a second call does nothing
    await tick();
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect([slots.inUse('A'), slots.waiting('A')]).toEqual([2, 1]);
    releases.get('a1')!();
    releases.get('a3')!();
    await tick();
    expect(order.at(-1)).toBe('a4');
    releases.get('a4')!();
    releases.get('b1')!();
    expect([slots.inUse('A'), slots.waiting('A'), slots.inUse('B')]).toEqual([0, 0, 0]);
  });

  it('never more than the limit at once, however many come (20 set-ups, 8 slots)', async () => {
    const slots = new StartupSlots(8);
    let now = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        slots.with('bastion:22', async () => {
          most = Math.max(most, ++now);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          now--;
        }),
      ),
    );
    expect(most).toBe(8);
    expect(slots.inUse('bastion:22')).toBe(0);
  });

  it('a failed holder gives its slot back', async () => {
    const slots = new StartupSlots(1);
    await expect(slots.with('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.inUse('k')).toBe(0);
  });

  it('refuse a limit below 1', () => {
    expect(() => new StartupSlots(0)).toThrow(RangeError);
  });
});

describe('paced set-up with retries', () => {
  const noJitter = () => 0.5;
  const refused = () => new RefusedBeforeHandshake('ssh to 10.0.0.5:22 failed: Connection lost before handshake');

  it('retries refusals with the schedule, reporting each retry; the slot is free while waiting', async () => {
    const slots = new StartupSlots(1);
    const slept: number[] = [];
    const said: string[] = [];
    let calls = 0;
    const r = await setUpPaced(
      'h:22',
      async () => {
        expect(slots.inUse('h:22')).toBe(1);
        if (++calls <= 2) throw refused();
        return 'connected';
      },
      {
        slots,
        random: noJitter,
        sleep: async (ms) => {
          expect(slots.inUse('h:22')).toBe(0);
          slept.push(ms);
        },
        onRetry: (n, ms) => said.push(`retry ${n} in ${(ms / 1000).toFixed(1)} s`),
      },
    );
    expect(r).toEqual({ value: 'connected', retries: 2 });
    expect(slept).toEqual([200, 400]);
    expect(said).toEqual(['retry 1 in 0.2 s', 'retry 2 in 0.4 s']);
  });

  it('past the budget: unreachable, naming MaxStartups, with the retry count', async () => {
    const e = await setUpPaced('h:22', async () => Promise.reject(refused()), { slots: new StartupSlots(1), schedule: [200, 400, 800], random: noJitter, sleep: async () => {} }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StartupGaveUp);
    expect(e).toBeInstanceOf(UnreachableError);
    expect((e as StartupGaveUp).connectRetries).toBe(3);
    expect(connectRetriesOf(e)).toBe(3);
    expect((e as Error).message).toMatch(/^ssh to 10\.0\.0\.5:22 failed: Connection lost before handshake: closed before the SSH handshake at each of 4 attempts over 1\.4 s; .*MaxStartups/);
  });

  it('anything else fails at once, not retried', async () => {
    let calls = 0;
    const auth = new UnreachableError('authentication failed for root@10.0.0.5: tried key ~/.ssh/id_ed25519');
    await expect(setUpPaced('h:22', async () => (calls++, Promise.reject(auth)), { slots: new StartupSlots(1), sleep: async () => {} })).rejects.toBe(auth);
    expect(calls).toBe(1);
  });
});

describe('retry counts', () => {
  it('are read from a connection or an error, 0 when absent', () => {
    expect(connectRetriesOf({ connectRetries: 2 })).toBe(2);
    expect(connectRetriesOf({ connectRetries: 0 })).toBe(0);
    expect(connectRetriesOf(new Error('x'))).toBe(0);
    expect(connectRetriesOf(undefined)).toBe(0);
  });
});

describe('the recap', () => {
  it('shows retries=N on the line of a host whose connection was retried, nothing for the others', () => {
    const base: HostResult = { host: 'web1', status: 'ok', ok: 3, changed: 0, handlers: [], roundTrips: 2, seconds: 1.2 };
    const text = renderRecap([{ ...base, connectRetries: 2 }, { ...base, host: 'web2' }], 2, new SecretRegistry()).replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/^ {2}web1 {2}ok=3 {2}changed=0 {2}failed=0 {2}unreachable=0 {2}skipped=0 {2}retries=2 {2}1\.2s$/m);
    expect(text).toMatch(/^ {2}web2 {2}ok=3 {2}changed=0 {2}failed=0 {2}unreachable=0 {2}skipped=0 {2}1\.2s$/m);
  });
});
