import { describe, expect, it } from 'vitest';
import { directory, planDirectory, type DirectoryOptions, type DirectoryState } from '../../../src/resources/directory.ts';
import { planLink, type LinkOptions, type LinkState } from '../../../src/resources/link.ts';
import { parseProbeOutput, probeScript } from '../../../src/engine/scripts.ts';
import { expectPlan, sh, tempDir, type Expected } from '../helpers.ts';

const D = '/var/lib/app';

describe('planDirectory', () => {
  const dir = (mode: string, owner = 'root', group = 'root'): DirectoryState => ({ kind: 'dir', mode, owner, group });
  const rows: { name: string; o: Partial<DirectoryOptions>; s: DirectoryState; want: Expected }[] = [
    { name: 'missing: mkdir -p, then mode and owner', o: {}, s: { kind: 'none' }, want: { action: '+', summary: 'create (0755 root:root)', has: [`mkdir -p ${D}`, `chmod 0755 ${D}`, `chown root:root ${D}`] } },
    { name: 'missing, with mode and owner', o: { mode: 0o750, owner: 'synapse', group: 'synapse' }, s: { kind: 'none' }, want: { action: '+', summary: 'create (0750 synapse:synapse)', has: ['mkdir -p', `chmod 0750 ${D}`, `chown synapse:synapse ${D}`] } },
    { name: 'present and right: no-op', o: {}, s: dir('755'), want: null },
    { name: 'present and right, explicit owner: no-op', o: { mode: 0o700, owner: 'pg', group: 'pg' }, s: dir('700', 'pg', 'pg'), want: null },
    { name: 'wrong mode', o: { mode: 0o700 }, s: dir('755'), want: { action: '~', summary: 'mode 0755 → 0700', has: [`chmod 0700 ${D}`], lacks: ['mkdir'] } },
    { name: 'wrong owner', o: { owner: 'pg' }, s: dir('755'), want: { action: '~', summary: 'owner root:root → pg:root', has: [`chown pg:root ${D}`], lacks: ['mkdir'] } },
    { name: 'wrong mode and owner', o: { mode: 0o700, group: 'pg' }, s: dir('755'), want: { action: '~', summary: 'mode 0755 → 0700, owner root:root → root:pg' } },
    { name: 'a file in the way', o: {}, s: { kind: 'other' }, want: { unresolved: `${D} exists and is not a directory` } },
    { name: 'owner missing', o: { owner: 'synapse' }, s: { kind: 'none', ownerMissing: true }, want: { unresolved: 'user synapse does not exist yet' } },
    { name: 'group missing', o: { group: 'matrix' }, s: { kind: 'none', groupMissing: true }, want: { unresolved: 'group matrix does not exist yet' } },
    { name: 'absent, nothing there: no-op', o: { state: 'absent' }, s: { kind: 'none' }, want: null },
    { name: 'absent removes recursively', o: { state: 'absent' }, s: dir('755'), want: { action: '-', summary: 'remove recursively', has: [`rm -rf ${D}`] } },
    { name: 'numeric owner (a container user without a name here): compared by id', o: { owner: '1000', group: '1000', mode: 0o750 }, s: { kind: 'dir', mode: '750', owner: 'UNKNOWN', group: 'UNKNOWN', uid: '1000', gid: '1000' }, want: null },
    { name: 'numeric owner, other id: chown by number', o: { owner: '1000', group: '1000', mode: 0o750 }, s: { kind: 'dir', mode: '750', owner: 'root', group: 'root', uid: '0', gid: '0' }, want: { action: '~', summary: 'owner root:root → 1000:1000', has: [`chown 1000:1000 ${D}`] } },
    { name: 'numeric owner, unnamed id shown as a number', o: { owner: '1000' }, s: { kind: 'dir', mode: '755', owner: 'UNKNOWN', group: 'root', uid: '2000', gid: '0' }, want: { action: '~', summary: 'owner 2000:root → 1000:root' } },
    { name: 'absent does not care about a missing owner', o: { state: 'absent', owner: 'gone' }, s: { kind: 'none', ownerMissing: true }, want: null },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planDirectory({ path: D, ...o }, s), want));

  it('quotes a path with spaces', () => {
    expectPlan(planDirectory({ path: '/srv/my data' }, { kind: 'none' }), { action: '+', summary: /create/, has: [`mkdir -p '/srv/my data'`] });
  });
});

describe('planLink', () => {
  const L = '/etc/nginx/sites-enabled/matrix';
  const T = '/etc/nginx/sites-available/matrix';
  const rows: { name: string; o: Partial<LinkOptions>; s: LinkState; want: Expected }[] = [
    { name: 'missing: created atomically (ln to a temp name, then mv -T)', o: {}, s: { kind: 'none' }, want: { action: '+', summary: `→ ${T}`, has: [`ln -sfn ${T} ${L}.mxp-tmp`, `mv -Tf ${L}.mxp-tmp ${L}`] } },
    { name: 'right target: no-op', o: {}, s: { kind: 'link', target: T }, want: null },
    { name: 'other target: re-pointed', o: {}, s: { kind: 'link', target: '/old' }, want: { action: '~', summary: `/old → ${T}`, has: ['ln -sfn', 'mv -Tf'] } },
    { name: 'a real file in the way', o: {}, s: { kind: 'other' }, want: { unresolved: `${L} exists and is not a symlink` } },
    { name: 'absent, nothing there: no-op', o: { state: 'absent' }, s: { kind: 'none' }, want: null },
    { name: 'absent removes the link', o: { state: 'absent' }, s: { kind: 'link', target: T }, want: { action: '-', summary: 'remove symlink', has: [`rm -f ${L}`] } },
    { name: 'absent refuses to remove a real file', o: { state: 'absent' }, s: { kind: 'other' }, want: { unresolved: /not a symlink; refusing/ } },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planLink({ path: L, target: T, ...o }, s), want));
});

describe('directory probe, run for real', () => {
  it('reports numeric ids and needs no passwd entry for a numeric owner', () => {
    const d = tempDir();
    const res = directory({ path: d, owner: '4242', group: '4242' });
    const s = parseProbeOutput(sh(probeScript([res])).stdout, [res]).states[0];
    expect(s).toMatchObject({ kind: 'dir', uid: String(process.getuid!()), gid: String(process.getgid!()) });
    expect(s).not.toHaveProperty('ownerMissing');
  });
});
