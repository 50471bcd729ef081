import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apt, APT_UPDATE_MARKER, planApt, type AptState } from '../../../src/resources/apt.ts';
import type { Change, FactProbe } from '../../../src/resources/types.ts';
import { fakeBin, sh, tempDir } from '../helpers.ts';

describe('apt probes', () => {
  it('present/absent: read from the batched package facts, unknown packages as not installed', () => {
    const r = apt({ names: ['nginx', 'jq'] });
    const p = r.probe as FactProbe<AptState>;
    expect(p.facts).toEqual({ packages: ['nginx', 'jq'] });
    const s = p.read({ pkg: (n: string) => (n === 'nginx' ? { status: 'ii ', version: '1.22' } : undefined) } as never);
    expect(s).toEqual({ pkgs: { nginx: { status: 'ii ', version: '1.22', candidate: '' }, jq: { status: '', version: '', candidate: '' } } });
    expect(r).toMatchObject({ type: 'apt', id: 'nginx,jq' });
    expect(r.plan(s)).toMatchObject({ action: '+', summary: 'install jq' });
  });

  it('latest: dpkg-query and the candidate apt-cache gives, run against fake tools', () => {
    const bin = fakeBin({
      'dpkg-query': '[ "$3" = nginx ] && printf "ii |1.22" || exit 1',
      'apt-cache': 'echo "$*" >> "$(dirname "$0")/calls"; echo "  Installed: x"; echo "  Candidate: 1.24"',
    });
    const r = apt({ names: ['nginx', 'jq'], state: 'latest', target_release: 'bookworm-backports' });
    const out = sh(r.probe as string, { fakeBin: bin });
    const s = JSON.parse(out.stdout) as AptState;
    expect(s).toEqual({ pkgs: { nginx: { status: 'ii ', version: '1.22', candidate: '1.24' }, jq: { status: '', version: '', candidate: '1.24' } } });
    expect(readFileSync(`${bin}/calls`, 'utf8')).toBe('-t bookworm-backports policy nginx\n-t bookworm-backports policy jq\n');
    expect(r.plan(s)).toMatchObject({ action: '+', summary: 'install jq; upgrade nginx 1.22 → 1.24' });
  });
});

describe('apt scripts, run against a fake apt-get', () => {
  function run(script: string, marker: boolean) {
    const dir = tempDir();
    const m = `${dir}/apt-update-needed`;
    if (marker) writeFileSync(m, '');
    const bin = fakeBin({ 'apt-get': `echo "apt-get $*" >> ${dir}/log` });
    const r = sh(script.replaceAll(APT_UPDATE_MARKER, m), { fakeBin: bin });
    return { code: r.code, log: existsSync(`${dir}/log`) ? readFileSync(`${dir}/log`, 'utf8') : '', marker: existsSync(m) };
  }

  it('a source changed (marker): the lists are refreshed first, then the marker goes', () => {
    const c = planApt({ names: ['a', 'b'] }, { pkgs: {} }) as Change;
    const r = run(c.script, true);
    expect(r.code).toBe(0);
    expect(r.log.split('\n')[0]).toBe('apt-get -q -o DPkg::Lock::Timeout=600 update');
    expect(r.log).toContain(' install a b\n');
    expect(r.marker).toBe(false);
  });

  it('several packages removed in one call, and several upgrades listed', () => {
    const s: AptState = { pkgs: { a: { status: 'ii ', version: '1', candidate: '2' }, b: { status: 'ii ', version: '3', candidate: '4' } } };
    const rm = planApt({ names: ['a', 'b'], state: 'absent' }, s) as Change;
    expect(rm.summary).toBe('remove a b');
    expect(run(rm.script, false).log).toMatch(/ remove a b\n$/);
    expect((planApt({ names: ['a', 'b'], state: 'latest' }, s) as Change).summary).toBe('upgrade a 1 → 2, b 3 → 4');
  });
});
