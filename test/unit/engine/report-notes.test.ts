// Report resources (a role's health line, such as the backup role's): read in the host's one probe,
// never a change, carried into the host's result and shown in the recap, and not drift for a saved
// plan. Run over a real shell, as the engine runs a host.
import { describe, expect, it } from 'vitest';
import type { HostNote, Resource } from '../../../src/resources/types.ts';
import { hostRecord } from '../../../src/plan-file/make.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { renderRecap } from '../../../src/ui/recap.ts';
import { command } from '../../../src/resources/command.ts';
import { playWork, runHost } from './run-host.ts';

/** A report reading one number from the host: `echo` stands for what a role's probe reads. */
const report = (id: string, value: string, level: HostNote['level']): Resource<{ n: number }> => ({
  type: 'health', id, probe: `echo '{"n":${value}}'`, plan: () => null,
  report: (s) => (s.n > 0 ? { level, text: `${id}: ${s.n}` } : undefined),
  notify: [], tags: [],
});

describe('report resources', () => {
  it.each<[string, Resource[], HostNote[] | undefined]>([
    ['one line', [report('backup', '3', 'ok')], [{ level: 'ok', text: 'backup: 3' }]],
    ['in resource order, several', [report('a', '1', 'fail'), report('b', '2', 'warn')], [{ level: 'fail', text: 'a: 1' }, { level: 'warn', text: 'b: 2' }]],
    ['a report with nothing to say', [report('a', '0', 'ok')], undefined],
  ])('%s: read in the probe, no change, in the result', async (_n, resources, notes) => {
    const { plan, result } = await runHost([playWork(0, [...resources, command({ name: 'noop', cmd: 'true', unless: 'true' })])]);
    expect(plan.items.every((p) => p.status === 'ok')).toBe(true);
    expect(result.changed).toBe(0);
    expect(result.notes).toEqual(notes);
  });

  it('the recap shows each line under the hosts, a failure in red', () => {
    const base = { status: 'ok' as const, ok: 1, changed: 0, handlers: [], roundTrips: 1, seconds: 1 };
    const text = renderRecap([
      { ...base, host: 'hs1', notes: [{ level: 'ok', text: 'backup: last successful backup 2026-12-01 03:30 UTC (2 h ago), archive hs1-x' }] },
      { ...base, host: 'hs2', notes: [{ level: 'fail', text: 'backup FAILED 2026-12-01 03:31 UTC at borg create (exit 2)' }] },
    ], 1, new SecretRegistry());
    expect(text).toContain('\nhs1 backup: last successful backup 2026-12-01 03:30 UTC (2 h ago), archive hs1-x\n');
    expect(text).toContain('hs2 backup FAILED 2026-12-01 03:31 UTC at borg create (exit 2)');
    expect(text.indexOf('hs1 backup')).toBeGreaterThan(text.indexOf('RECAP'));
  });

  it('a saved plan does not fingerprint what a report read: a backup between plan and apply is no drift', async () => {
    const secrets = new SecretRegistry();
    const fp = async (value: string) => hostRecord((await runHost([playWork(0, [report('backup', value, 'ok')])])).plan, secrets).resources[0]!.state;
    expect(await fp('1')).toBe(await fp('2'));
    // An ordinary resource's state is fingerprinted: the same comparison tells two states apart.
    const plain = async (v: string) => hostRecord((await runHost([playWork(0, [command({ name: 'c', cmd: 'true', unless: v })])])).plan, secrets).resources[0]!.state;
    expect(await plain('true')).not.toBe(await plain('false'));
  });
});
