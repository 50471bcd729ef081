import { describe, expect, it } from 'vitest';
import { directory, planDirectory, type DirectoryOptions, type DirectoryState } from '../../../src/resources/directory.ts';
import { link, planLink, type LinkOptions, type LinkState } from '../../../src/resources/link.ts';
import type { Change, FactProbe } from '../../../src/resources/types.ts';
import { readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
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

describe('directory(): what it reads from the batched facts', () => {
  const facts = (o: { path?: object; users?: string[]; groups?: string[] }) => ({
    path: () => o.path,
    user: (u: string) => (o.users ?? []).includes(u),
    group: (g: string) => (o.groups ?? []).includes(g),
  }) as never;
  const dirFact = { kind: 'dir', mode: '750', owner: 'app', group: 'grp', uid: '1001', gid: '1002' };

  it('asks for the path, and for the owner and group only when given', () => {
    const p = (o: Partial<DirectoryOptions>) => (directory({ path: D, ...o }).probe as FactProbe<DirectoryState>).facts;
    expect(p({ owner: 'app', group: 'grp' })).toEqual({ paths: [{ path: D }], owners: ['app'], groups: ['grp'] });
    expect(p({})).toEqual({ paths: [{ path: D }], owners: [], groups: [] });
  });

  it.each([
    ['nothing there', {}, {}, { kind: 'none' }],
    ['a directory', { path: dirFact, users: ['app'], groups: ['grp'] }, { owner: 'app', group: 'grp' }, { kind: 'dir', mode: '750', owner: 'app', group: 'grp', uid: '1001', gid: '1002' }],
    ['a file in the way', { path: { kind: 'file', mode: '644' } }, {}, { kind: 'other' }],
    ['its owner missing', { groups: ['grp'] }, { owner: 'app', group: 'grp' }, { kind: 'none', ownerMissing: true }],
    ['its group missing', { users: ['app'] }, { owner: 'app', group: 'grp' }, { kind: 'none', groupMissing: true }],
  ])('%s', (_n, f, o, want) => {
    const r = directory({ path: D, ...o });
    expect((r.probe as FactProbe<DirectoryState>).read(facts(f))).toEqual(want);
  });

  it('is a directory resource planning from that state', () => {
    const r = directory({ path: D, mode: 0o750, owner: 'app', group: 'grp' });
    expect(r).toMatchObject({ type: 'directory', id: D });
    expect(r.plan({ kind: 'dir', mode: '750', owner: 'app', group: 'grp' })).toBeNull();
    expect(r.plan({ kind: 'none' })).toMatchObject({ action: '+' });
  });

  it.each([
    ['a name ending in digits is a name', { owner: 'www1', group: 'root' }, { kind: 'dir', mode: '755', owner: 'www1', group: 'root', uid: '1', gid: '0' }, null],
    ['a name starting with digits is a name', { owner: '1www', group: 'root' }, { kind: 'dir', mode: '755', owner: '1www', group: 'root', uid: '1', gid: '0' }, null],
    ['a numeric group with another gid', { group: '1000' }, { kind: 'dir', mode: '755', owner: 'root', group: 'root', uid: '0', gid: '0' }, 'owner root:root → root:1000'],
    ['a directory whose mode was not read', {}, { kind: 'dir', owner: 'root', group: 'root' }, 'mode 0000 → 0755'],
  ] as [string, Partial<DirectoryOptions>, DirectoryState, string | null][])('%s', (_n, o, s, summary) => {
    const p = planDirectory({ path: D, ...o }, s);
    if (summary === null) expect(p).toBeNull();
    else expect(p).toMatchObject({ action: '~', summary });
  });
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

describe('link probe, run for real', () => {
  const probe = (path: string) => {
    const r = link({ path, target: '/x' });
    return JSON.parse(sh(r.probe as string).stdout) as LinkState;
  };

  it('a symlink and its target, read back exactly even with quotes and backslashes in it', () => {
    const d = tempDir();
    const target = `${d}/it's "a" \\ target`;
    symlinkSync(target, `${d}/l`);
    expect(probe(`${d}/l`)).toEqual({ kind: 'link', target });
  });

  it('a real file is other; nothing there is none', () => {
    const d = tempDir();
    writeFileSync(`${d}/f`, 'x');
    expect(probe(`${d}/f`)).toEqual({ kind: 'other' });
    expect(probe(`${d}/missing`)).toEqual({ kind: 'none' });
  });

  it('the plan made from the probe is applied by its script: the link then points at the target', () => {
    const d = tempDir();
    const r = link({ path: `${d}/cur rent`, target: `${d}/v1` });
    expect(r).toMatchObject({ type: 'link', id: `${d}/cur rent` });
    const c = r.plan(JSON.parse(sh(r.probe as string).stdout)) as Change;
    expect(sh(c.script).code).toBe(0);
    expect(readlinkSync(`${d}/cur rent`)).toBe(`${d}/v1`);
    expect(r.plan(JSON.parse(sh(r.probe as string).stdout))).toBeNull();
  });
});
