// A restart handler with an up-to-date condition: probed when it comes to run, it restarts only a
// service that is not running, or whose condition says it does not run what it should.
import { describe, expect, it } from 'vitest';
import { service } from '../../../src/resources/service.ts';
import { sh, tempDir } from '../helpers.ts';

const restart = service.restart('matrix-synapse', undefined, { upToDate: { check: '[ "$(cat "$STAMP")" = same ] # a comment ends the line' } });

describe('service.restart with upToDate', () => {
  it.each([
    ['running, up to date: nothing to run', { ActiveState: 'active', UpToDate: 'yes' }, null],
    ['running, not up to date: restart', { ActiveState: 'active', UpToDate: 'no' }, 'restart'],
    ['stopped, even if up to date: start', { ActiveState: 'inactive', UpToDate: 'yes' }, 'start (was not running)'],
  ])('%s', (_, state, summary) => {
    const p = restart.plan({ LoadState: 'loaded', UnitFileState: 'enabled', ...state });
    if (summary === null) expect(p).toBeNull();
    else expect(p).toMatchObject({ action: '~', summary });
  });

  it('its probe adds the condition\'s verdict to the unit\'s state, as one JSON line', () => {
    const fakeSystemctl = 'printf "LoadState=loaded\\nActiveState=active\\nUnitFileState=enabled\\n"';
    const dir = tempDir();
    for (const [stamp, want] of [['same', 'yes'], ['other', 'no']] as const) {
      const r = sh(`systemctl() { ${fakeSystemctl}; }\nexport STAMP=${dir}/s; echo ${stamp} > "$STAMP"\n${restart.probe as string}`);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled', UpToDate: want });
    }
  });

  it('without the option, the probe is the plain unit probe and a running service restarts', () => {
    const plain = service.restart('matrix-synapse');
    expect(plain.probe).not.toContain('UpToDate');
    expect(plain.plan({ LoadState: 'loaded', ActiveState: 'active', UpToDate: 'yes' })).toMatchObject({ summary: 'restart' });
  });
});
