import { describe, expect, it } from 'vitest';
import { apt, planApt, APT_UPDATE_MARKER, type AptOptions, type AptState } from '../../../src/resources/apt.ts';
import { aptSource, aptSourceText } from '../../../src/resources/apt-source.ts';
import { debconf, planDebconf, type DebconfOptions, type DebconfState } from '../../../src/resources/debconf.ts';
import type { Change, FactProbe } from '../../../src/resources/types.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expectPlan, heredocPayload, sh, tempDir, type Expected } from '../helpers.ts';

const ii = (version: string, candidate?: string) => ({ status: 'ii ', version, ...(candidate ? { candidate } : {}) });
const none = { status: '', version: '' }; // dpkg-query knows nothing about it
const un = { status: 'un ', version: '' };
const pkgs = (p: AptState['pkgs']): AptState => ({ pkgs: p });

describe('planApt', () => {
  const rows: { name: string; o: Partial<AptOptions>; s: AptState; want: Expected }[] = [
    {
      name: 'not installed: install (lists refreshed first when stale)',
      o: { names: ['nginx'] },
      s: pkgs({ nginx: none }),
      want: { action: '+', summary: 'install nginx', has: ['export DEBIAN_FRONTEND=noninteractive', `if [ -e ${APT_UPDATE_MARKER} ]`, 'apt-get -q -o DPkg::Lock::Timeout=600 update', 'install nginx'] },
    },
    { name: 'installed: no-op', o: { names: ['nginx'] }, s: pkgs({ nginx: ii('1.22') }), want: null },
    { name: 'all of several installed: no-op', o: { names: ['nginx', 'curl'] }, s: pkgs({ nginx: ii('1.22'), curl: ii('7.88') }), want: null },
    {
      name: 'partially installed: only the missing ones are installed',
      o: { names: ['nginx', 'curl', 'jq'] },
      s: pkgs({ nginx: ii('1.22'), curl: un, jq: none }),
      want: { action: '+', summary: 'install curl jq', has: ['install curl jq'], lacks: ['nginx'] },
    },
    { name: 'removed with config files left (rc) counts as missing', o: { names: ['nginx'] }, s: pkgs({ nginx: { status: 'rc ', version: '1.22' } }), want: { action: '+', summary: 'install nginx' } },
    { name: 'unpacked but not configured (iU) counts as missing', o: { names: ['nginx'] }, s: pkgs({ nginx: { status: 'iU ', version: '1.22' } }), want: { action: '+', summary: 'install nginx' } },
    { name: 'held and installed (hi) is installed', o: { names: ['nginx'] }, s: pkgs({ nginx: { status: 'hi ', version: '1.22' } }), want: null },
    { name: 'probe without an entry for a name: install it', o: { names: ['nginx'] }, s: pkgs({}), want: { action: '+', summary: 'install nginx' } },
    {
      name: 'target release and no recommends become apt-get flags',
      o: { names: ['matrix-synapse-py3'], target_release: 'bookworm-backports', install_recommends: false },
      s: pkgs({ 'matrix-synapse-py3': none }),
      want: { action: '+', summary: 'install matrix-synapse-py3', has: ['install -t bookworm-backports --no-install-recommends matrix-synapse-py3'] },
    },
    { name: 'install_recommends true adds no flag', o: { names: ['a'], install_recommends: true }, s: pkgs({ a: none }), want: { action: '+', summary: 'install a', lacks: ['--no-install-recommends', ' -t '] } },
    { name: 'latest: up to date is a no-op', o: { names: ['nginx'], state: 'latest' }, s: pkgs({ nginx: ii('1.22', '1.22') }), want: null },
    {
      name: 'latest: an older version is upgraded',
      o: { names: ['nginx'], state: 'latest' },
      s: pkgs({ nginx: ii('1.22', '1.24') }),
      want: { action: '~', summary: 'upgrade nginx 1.22 → 1.24', has: ['install nginx'] },
    },
    {
      name: 'latest: missing and outdated together, action +',
      o: { names: ['nginx', 'curl'], state: 'latest' },
      s: pkgs({ nginx: ii('1.22', '1.24'), curl: none }),
      want: { action: '+', summary: 'install curl; upgrade nginx 1.22 → 1.24', has: ['install curl nginx'] },
    },
    { name: 'latest: no candidate known (empty) is not an upgrade', o: { names: ['nginx'], state: 'latest' }, s: pkgs({ nginx: { status: 'ii ', version: '1.22', candidate: '' } }), want: null },
    { name: 'present ignores the candidate', o: { names: ['nginx'] }, s: pkgs({ nginx: ii('1.22', '1.24') }), want: null },
    { name: 'absent: not installed is a no-op', o: { names: ['nginx'], state: 'absent' }, s: pkgs({ nginx: none }), want: null },
    { name: 'absent: config files only (rc) is a no-op', o: { names: ['nginx'], state: 'absent' }, s: pkgs({ nginx: { status: 'rc ', version: '1.22' } }), want: null },
    {
      name: 'absent: removes only what is installed',
      o: { names: ['nginx', 'apache2'], state: 'absent' },
      s: pkgs({ nginx: ii('1.22'), apache2: un }),
      want: { action: '-', summary: 'remove nginx', has: ['remove nginx'], lacks: ['apache2', 'update'] },
    },
    { name: 'absent: a held package is still removed (apt will say why not)', o: { names: ['nginx'], state: 'absent' }, s: pkgs({ nginx: { status: 'hi ', version: '1.22' } }), want: { action: '-', summary: 'remove nginx' } },
    { name: 'absent: a half-installed package is removed', o: { names: ['nginx'], state: 'absent' }, s: pkgs({ nginx: { status: 'iF ', version: '1.22' } }), want: { action: '-', summary: 'remove nginx' } },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planApt({ names: [], ...o }, s), want));

  it('never lets dpkg ask: confdef/confold and a lock timeout', () => {
    const c = planApt({ names: ['x'] }, pkgs({})) as Change;
    expect(c.script).toMatch(/apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install x/);
  });
});

describe('apt no_start: services not started by the install (policy-rc.d)', () => {
  /** The install step run for real, with the policy file in a temp folder and a fake apt-get. */
  function install(opts: { existing?: string; aptFails?: boolean }) {
    const dir = tempDir();
    const policy = `${dir}/policy-rc.d`;
    if (opts.existing !== undefined) writeFileSync(policy, opts.existing);
    const c = planApt({ names: ['matrix-synapse'], no_start: true }, pkgs({})) as Change;
    const step = c.script.slice(c.script.indexOf('if [ -e /usr/sbin/policy-rc.d'))
      .replaceAll('/usr/sbin/policy-rc.d', policy)
      // apt-get: what a maintainer script would see, recorded
      .replace(/apt-get -y [^\n]* install matrix-synapse/g, `{ if [ -x ${policy} ]; then ${policy} matrix-synapse.service start; echo "policy=$?"; else echo policy=none; fi; ${opts.aptFails ? 'false' : 'true'}; }`);
    const r = sh(step);
    return { ...r, left: existsSync(policy) ? readFileSync(policy, 'utf8') : null };
  }

  it('the install sees a policy that refuses starts (101), removed after', () => {
    const r = install({});
    expect(r.stdout).toContain('policy=101');
    expect(r.code).toBe(0);
    expect(r.left).toBeNull();
  });
  it('a failed install fails the step, and the policy is removed all the same', () => {
    const r = install({ aptFails: true });
    expect(r.code).not.toBe(0);
    expect(r.left).toBeNull();
  });
  it("an administrator's own policy-rc.d is used as it is and left in place", () => {
    const own = '#!/bin/sh\nexit 0\n';
    const r = install({ existing: own });
    expect(r.stdout).toContain('policy=none'); // not executable: it is theirs, untouched
    expect(r.left).toBe(own);
  });
  it('one left behind by an earlier cut run is taken as ours and removed', () => {
    const c = planApt({ names: ['x'], no_start: true }, pkgs({})) as Change;
    const text = /printf '([^']*)' > \/usr\/sbin\/policy-rc\.d/.exec(c.script)![1]!;
    const r = install({ existing: sh(`printf '${text}'`).stdout });
    expect(r.stdout).toContain('policy=101');
    expect(r.left).toBeNull();
  });
  it('without no_start, no policy file is involved', () => {
    expect((planApt({ names: ['x'] }, pkgs({})) as Change).script).not.toContain('policy-rc.d');
  });
});

describe('apt()', () => {
  it('asks apt-cache for candidates only for latest, and from the target release', () => {
    expect(apt({ names: ['a'] }).probe).not.toContain('apt-cache');
    expect(apt({ names: ['a'], state: 'latest' }).probe).toContain('apt-cache policy "$n"');
    expect(apt({ names: ['a'], state: 'latest', target_release: 'bookworm-backports' }).probe).toContain('apt-cache -t bookworm-backports policy "$n"');
  });
  it('is identified by its package names', () => {
    expect(apt({ names: ['a', 'b'] }).id).toBe('a,b');
  });
});

describe('aptSource()', () => {
  const o = { name: 'matrix-org', uris: 'https://packages.matrix.org/debian/', suites: 'bookworm', components: 'main', key: '-----BEGIN PGP-----\nabc\n-----END PGP-----\n\n' };
  it('writes a keyring and a deb822 source signed by it, each marking the lists stale', () => {
    const [key, src] = aptSource(o);
    expect(key!.id).toBe('/etc/apt/keyrings/matrix-org.asc');
    expect(src!.id).toBe('/etc/apt/sources.list.d/matrix-org.sources');
    for (const r of [key!, src!]) expect((r.plan({ kind: 'none' }) as Change).script).toContain(`: > ${APT_UPDATE_MARKER}`);
    expect(heredocPayload((key!.plan({ kind: 'none' }) as Change).script)).toBe('-----BEGIN PGP-----\nabc\n-----END PGP-----\n');
    expect(aptSourceText(o)).toContain('Signed-By: /etc/apt/keyrings/matrix-org.asc\n');
    expect(aptSourceText(o)).not.toContain('Architectures');
    expect(aptSourceText({ ...o, architectures: 'amd64' })).toContain('Architectures: amd64\n');
  });
  it('the deb822 text in full, and each file typed as what it is', () => {
    expect(aptSourceText({ ...o, architectures: 'amd64 arm64' })).toBe(
      'Types: deb\nURIs: https://packages.matrix.org/debian/\nSuites: bookworm\nComponents: main\nArchitectures: amd64 arm64\nSigned-By: /etc/apt/keyrings/matrix-org.asc\n',
    );
    expect(aptSourceText(o)).toBe('Types: deb\nURIs: https://packages.matrix.org/debian/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/matrix-org.asc\n');
    expect(aptSource(o).map((r) => r.type)).toEqual(['apt key', 'apt source']);
    expect(aptSource({ ...o, notify: 'apt update', tags: ['repo'] }).map((r) => [r.notify, r.tags])).toEqual([[['apt update'], ['repo']], [['apt update'], ['repo']]]);
  });
  it('absent removes both files', () => {
    for (const r of aptSource({ ...o, state: 'absent' })) expect((r.plan({ kind: 'file', sha: 'x' }) as Change).action).toBe('-');
  });
});

describe('planDebconf', () => {
  const base: DebconfOptions = { package: 'matrix-synapse', question: 'matrix-synapse/server-name', vtype: 'string', value: 'example.org' };
  const rows: { name: string; o: Partial<DebconfOptions>; s: DebconfState; want: Expected }[] = [
    { name: 'not in the database: set', o: {}, s: { value: null }, want: { action: '+', summary: 'matrix-synapse/server-name = example.org', has: [`printf '%s\\n' 'matrix-synapse matrix-synapse/server-name string example.org' | debconf-set-selections`] } },
    { name: 'same value: no-op', o: {}, s: { value: 'example.org' }, want: null },
    { name: 'other value: changed', o: {}, s: { value: 'old.org' }, want: { action: '~', summary: 'matrix-synapse/server-name: old.org → example.org', has: ['string example.org'] } },
    { name: 'boolean true matches "true"', o: { vtype: 'boolean', value: true }, s: { value: 'true' }, want: null },
    { name: 'boolean false differs from "true"', o: { vtype: 'boolean', value: false }, s: { value: 'true' }, want: { action: '~', summary: /true → false/, has: ['boolean false'] } },
    { name: 'a value with a quote is shell-safe', o: { value: "it's" }, s: { value: null }, want: { action: '+', summary: /it's/, has: [`'matrix-synapse matrix-synapse/server-name string it'\\''s'`] } },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planDebconf({ ...base, ...o }, s), want));

  it('a password question never shows the old or the new value in the summary', () => {
    const o = { ...base, question: 'pkg/password', vtype: 'password' as const, value: 'n3w-s3cret' };
    const changed = planDebconf(o, { value: '0ld-s3cret' }) as Change;
    expect(changed.summary).not.toMatch(/s3cret/);
    expect(changed.script).toContain('n3w-s3cret');
    expect((planDebconf(o, { value: null }) as Change).summary).not.toMatch(/s3cret/);
    expect(planDebconf(o, { value: 'n3w-s3cret' })).toBeNull();
    expect(changed.summary).toBe('pkg/password (password) changes');
    expect((planDebconf(o, { value: null }) as Change).summary).toBe('pkg/password (password) set');
  });

  it('an answer with a line break is refused (debconf-set-selections would read a second answer)', () => {
    expect(() => planDebconf({ ...base, value: 'a\nmatrix-synapse other/q string x' }, { value: null })).toThrow(/cannot hold a line break/);
    expect(() => planDebconf({ ...base, value: 'a\rb' }, { value: 'a' })).toThrow(/line break/);
  });

  it('debconf(): one resource per question, read from the shared debconf facts', () => {
    const r = debconf({ ...base, notify: 'restart synapse' });
    expect(r).toMatchObject({ type: 'debconf', id: 'matrix-synapse/matrix-synapse/server-name', notify: ['restart synapse'] });
    const p = r.probe as FactProbe<DebconfState>;
    expect(p.facts).toEqual({ debconf: ['matrix-synapse/server-name'] });
    const state = p.read({ debconf: (q: string) => (q === 'matrix-synapse/server-name' ? 'old.org' : null) } as never);
    expect(state).toEqual({ value: 'old.org' });
    expect(r.plan(state)).toMatchObject({ action: '~' });
  });
});
