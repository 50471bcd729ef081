import { describe, expect, it } from 'vitest';
import { applyScript, parseApplyOutput, parseProbeOutput, probeScript, PENDING_FILE } from '../../../src/engine/scripts.ts';
import type { Resource } from '../../../src/resources/types.ts';

const res = (probe: string): Resource => ({ type: 't', id: probe, probe, plan: () => null, notify: [], tags: [] });

describe('parseProbeOutput', () => {
  it('reads one JSON state per probe, by index, and the pending handlers', () => {
    const out = ['@@mxp probe 0', '{"kind":"none"}', '@@mxp probe 1', '{"done":true}', '@@mxp pending', 'restart nginx', '', 'reload synapse', ''].join('\n');
    expect(parseProbeOutput(out, 2)).toEqual({
      states: [{ kind: 'none' }, { done: true }],
      errors: [undefined, undefined],
      pending: ['restart nginx', 'reload synapse'],
    });
  });

  it('takes the last non-empty line of a probe (tools may chatter before it)', () => {
    const out = '@@mxp probe 0\nsome warning\n{"a":1}\n\n@@mxp pending\n';
    expect(parseProbeOutput(out, 1).states[0]).toEqual({ a: 1 });
  });

  it('a probe that printed nothing is an error for that resource only', () => {
    const out = '@@mxp probe 0\n@@mxp probe 1\n{"ok":true}\n@@mxp pending\n';
    const r = parseProbeOutput(out, 2);
    expect(r.errors[0]).toBe('the probe printed nothing');
    expect(r.errors[1]).toBeUndefined();
    expect(r.states[1]).toEqual({ ok: true });
  });

  it('a probe whose section is missing entirely (the script died) is an error', () => {
    const r = parseProbeOutput('@@mxp probe 0\n{}\n', 3);
    expect(r.errors).toEqual([undefined, 'the probe printed nothing', 'the probe printed nothing']);
    expect(r.pending).toEqual([]);
  });

  it('non-JSON output is an error quoting what was printed', () => {
    const r = parseProbeOutput('@@mxp probe 0\nsh: 1: stat: not found\n@@mxp pending\n', 1);
    expect(r.errors[0]).toMatch(/not JSON: sh: 1: stat: not found/);
    expect(r.states[0]).toBeUndefined();
  });

  it('ignores lines before the first marker', () => {
    const r = parseProbeOutput('motd banner\n@@mxp probe 0\n{"x":2}\n', 1);
    expect(r.states[0]).toEqual({ x: 2 });
  });
});

describe('probeScript', () => {
  it('marks each probe with its index, silences its stderr, and ends with the pending handlers', () => {
    const s = probeScript([res('echo a'), res('echo b')]);
    expect(s.indexOf('@@mxp probe 0')).toBeLessThan(s.indexOf('echo a'));
    expect(s.indexOf('echo a')).toBeLessThan(s.indexOf('@@mxp probe 1'));
    expect(s).toContain('( echo b\n) 2>/dev/null');
    expect(s.indexOf('@@mxp pending')).toBeGreaterThan(s.indexOf('echo b'));
    expect(s).toContain(`cat ${PENDING_FILE}`);
  });
});

describe('parseApplyOutput', () => {
  it('all steps ok and done', () => {
    const r = parseApplyOutput('@@mxp ok 0\n@@mxp ok 1\n@@mxp valid 0\n@@mxp done\n');
    expect([...r.ok]).toEqual([0, 1]);
    expect([...r.valid]).toEqual([0]);
    expect(r.failed).toBeUndefined();
    expect(r.done).toBe(true);
  });

  it('a failed step: which, exit code and its captured output (blank lines kept inside)', () => {
    const r = parseApplyOutput(['@@mxp ok 0', '@@mxp fail 1 100', '@@out E: Unable to locate package nginxx', '@@out', '@@out second line', ''].join('\n'));
    expect([...r.ok]).toEqual([0]);
    expect(r.failed).toEqual({ step: '1', code: 100, output: 'E: Unable to locate package nginxx\n\nsecond line', rolledBack: false });
    expect(r.done).toBe(false);
  });

  it('a failed validation that rolled back', () => {
    const r = parseApplyOutput('@@mxp ok 0\n@@mxp ok 1\n@@mxp fail validate:0 1\n@@out nginx: [emerg] unknown directive\n@@mxp rolledback\n');
    expect(r.failed).toEqual({ step: 'validate:0', code: 1, output: 'nginx: [emerg] unknown directive', rolledBack: true });
    expect(r.valid.size).toBe(0);
  });

  it('"rolledback" without a failure is ignored; no done marker means the script did not finish', () => {
    const r = parseApplyOutput('@@mxp rolledback\n@@mxp ok 0\n');
    expect(r.failed).toBeUndefined();
    expect(r.done).toBe(false);
  });

  it('stray output is not mistaken for markers', () => {
    const r = parseApplyOutput('  @@mxp ok 3\n@@mxp ok 3x\n@@mxp done\n');
    expect(r.ok.size).toBe(0);
    expect(r.done).toBe(true);
  });
});

describe('applyScript', () => {
  it('records a notification right after its own step, and those of a validation set only after the check', () => {
    const s = applyScript([
      { kind: 'change', id: 0, script: 'step0', notify: ['h0'] },
      { kind: 'change', id: 1, script: 'step1', notify: ['h1'], group: 0 },
      { kind: 'validate', group: 0, command: 'check', notify: ['h1'] },
    ]);
    expect(s.indexOf("mxp_notify h0")).toBeGreaterThan(s.indexOf('@@mxp ok 0'));
    expect(s.indexOf("mxp_notify h0")).toBeLessThan(s.indexOf('step1'));
    expect(s.indexOf("mxp_notify h1")).toBeGreaterThan(s.indexOf('@@mxp valid 0'));
    expect(s.indexOf('MXP_RBON=1')).toBeLessThan(s.indexOf('step1'));
    expect(s.trimEnd().endsWith('echo "@@mxp done"\n}')).toBe(true);
  });
});
