import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { applyScript, parseApplyOutput, parseProbeOutput, probeScript, STATE_DIR } from '../../../src/engine/scripts.ts';
import { UserError } from '../../../src/errors.ts';
import { planRelease, prunable, release, type ReleaseOptions, type ReleaseSource, type ReleaseState } from '../../../src/resources/release.ts';
import { isUnresolved, type Change } from '../../../src/resources/types.ts';
import { expectPlan, fakeBin, sh, tempDir, type Expected } from '../helpers.ts';

const D = '/var/www/element';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const URL_SRC: ReleaseSource = { url: 'https://example.com/element-v1.2.0.tar.gz' };
const LOCAL_SRC: ReleaseSource = { path: '/srv/dl/element-v1.2.0.tar.gz', size: 3 * 1024 * 1024, heredoc: () => "<<'MXP_EOF'\ndGFyYmFsbA==\nMXP_EOF" };

describe('planRelease', () => {
  const none: ReleaseState = { current: { kind: 'none' }, versions: [] };
  const at = (target: string, ...versions: [string, string][]): ReleaseState => ({
    current: { kind: 'link', target },
    versions: versions.map(([name, sha]) => ({ name, sha })),
  });
  const rows: { name: string; o?: Partial<ReleaseOptions>; src?: ReleaseSource; s: ReleaseState; want: Expected }[] = [
    {
      name: 'bare host, URL: fetch, verify before unpacking, rename into place, link current',
      s: none,
      want: {
        action: '+',
        summary: `install 1.2.0 from ${URL_SRC.url}, sha256 aaaaaaaaaaaa…, link current → versions/1.2.0`,
        has: [`mkdir -p ${D}/versions`, 'mktemp -d versions/.mxp-', `curl -fsSL --retry 2 -o "$t/release.tar" ${URL_SRC.url}`, 'sha256sum', `!= ${A}`, 'exit 1', 'tar -xf', 'mv "$root" versions/1.2.0', `printf '%s\\n' ${A} > versions/.1.2.0.sha256.tmp`, 'ln -sfn versions/1.2.0 .mxp-current && mv -Tf .mxp-current current'],
        lacks: ['rm -rf versions/1.1.0', 'base64 -d'],
      },
    },
    {
      name: 'bare host, local path: the bytes travel in the script, size in the summary',
      src: LOCAL_SRC,
      s: none,
      want: { action: '+', summary: /^install 1\.2\.0 upload element-v1\.2\.0\.tar\.gz \(3\.0 MB\), sha256 a{12}…, link current/, has: ['base64 -d > "$t/release.tar" <<\'MXP_EOF\'', 'sha256sum', 'tar -xf'], lacks: ['curl'] },
    },
    { name: 'installed and linked: no-op', s: at('versions/1.2.0', ['1.2.0', A]), want: null },
    { name: 'installed and linked, one older version within keep: no-op', s: at('versions/1.2.0', ['1.2.0', A], ['1.1.0', B]), want: null },
    {
      name: 'new version: install, switch, the old one kept (keep 2)',
      s: at('versions/1.1.0', ['1.1.0', B]),
      want: { action: '~', summary: /^install 1\.2\.0 .*, switch current versions\/1\.1\.0 → versions\/1\.2\.0$/, has: ['curl', 'mv "$root" versions/1.2.0', 'mv -Tf .mxp-current current'], lacks: ['rm -rf versions/1.1.0'] },
    },
    {
      name: 'new version beyond keep: the oldest goes, after the switch',
      s: at('versions/1.1.0', ['1.1.0', B], ['1.0.0', B]),
      want: { action: '~', summary: /switch current versions\/1\.1\.0 → versions\/1\.2\.0, remove old 1\.0\.0$/, has: ['mv -Tf .mxp-current current', 'rm -rf versions/1.0.0 && rm -f versions/1.0.0.sha256'], lacks: ['rm -rf versions/1.1.0'] },
    },
    {
      name: 'keep 1: only the new version stays',
      o: { keep: 1 },
      s: at('versions/1.1.0', ['1.1.0', B]),
      want: { action: '~', summary: /remove old 1\.1\.0$/, has: ['mv -Tf .mxp-current current', 'rm -rf versions/1.1.0'] },
    },
    {
      name: 'back to a kept version: only the link changes (no download), marked as recently used',
      s: at('versions/1.1.0', ['1.1.0', B], ['1.2.0', A]),
      want: { action: '~', summary: 'switch current versions/1.1.0 → versions/1.2.0', has: ['ln -sfn versions/1.2.0 .mxp-current', 'touch versions/1.2.0.sha256'], lacks: ['curl', 'tar', 'mktemp'] },
    },
    {
      name: 'keep lowered: only pruning',
      o: { keep: 2 },
      s: at('versions/1.2.0', ['1.2.0', A], ['1.1.0', B], ['1.0.0', B], ['0.9.0', B]),
      want: { action: '~', summary: 'remove old 1.0.0, 0.9.0', has: ['rm -rf versions/1.0.0', 'rm -rf versions/0.9.0'], lacks: ['mv -Tf', 'curl'] },
    },
    {
      name: 'same version name from another tarball while served: reinstalled, current relinked after',
      s: at('versions/1.2.0', ['1.2.0', B]),
      want: { action: '~', summary: /^reinstall 1\.2\.0 from .*, sha256 a{12}… \(was b{12}…\)$/, has: ['sha256sum', 'cp -al versions/1.2.0 "$t/serving"', 'mv versions/1.2.0 "$t/old"', 'mv "$root" versions/1.2.0', 'ln -sfn versions/1.2.0 .mxp-current'] },
    },
    {
      name: 'link points elsewhere (by hand): switched back',
      s: at('/opt/element', ['1.2.0', A]),
      want: { action: '~', summary: 'switch current /opt/element → versions/1.2.0', has: ['mv -Tf .mxp-current current'] },
    },
    { name: 'a real folder named current: refused', s: { current: { kind: 'other' }, versions: [] }, want: { unresolved: `${D}/current exists and is not a symlink; refusing to replace it` } },
  ];
  it.each(rows)('$name', ({ o, src, s, want }) =>
    expectPlan(planRelease({ dir: D, version: '1.2.0', source: 'x', sha256: A, ...o }, s, src ?? URL_SRC), want));

  it('quotes a folder with spaces', () => {
    const c = planRelease({ dir: '/srv/my apps/element', version: '1.2.0', source: 'x', sha256: A }, none, URL_SRC) as Change;
    expect(c.script).toContain("cd '/srv/my apps/element'");
  });
});

describe('prunable', () => {
  const v = (...names: string[]) => names.map((name) => ({ name, sha: A }));
  it.each([
    { versions: v(), want: '1', keep: 2, out: [] },
    { versions: v('3', '2', '1'), want: '4', keep: 2, out: ['2', '1'] },
    { versions: v('3', '2', '1'), want: '2', keep: 2, out: ['1'] }, // the wanted one counts as the newest
    { versions: v('3', '2', '1'), want: '1', keep: 3, out: [] },
    { versions: v('3'), want: '4', keep: 0, out: ['3'] }, // at least the wanted one stays
  ])('versions $versions.length, want $want, keep $keep', ({ versions, want, keep, out }) => {
    expect(prunable(versions, want, keep)).toEqual(out);
  });
});

describe('release() input checks, before any host is touched', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  const keys = { source: 'element_web_tarball', sha256: 'element_web_sha256' };
  const err = (o: Partial<ReleaseOptions>) => {
    try {
      release({ dir: D, version: '1.0.0', source: 'https://x/y.tgz', sha256: A, keys, ...o });
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      return e as UserError;
    }
    throw new Error('no error');
  };

  it('a local tarball with another checksum names both sums and the key', () => {
    const p = join(dir, 't.tgz');
    writeFileSync(p, 'not the release');
    const e = err({ source: p });
    expect(e.message).toBe(`tarball ${p} has sha256 ${sha('not the release')}, not the expected ${A}`);
    expect(e.context.key).toBe('element_web_sha256');
  });
  it('a missing local tarball', () => {
    const e = err({ source: join(dir, 'nope.tgz') });
    expect(e.message).toMatch(/nope\.tgz: no such file on this machine/);
    expect(e.context.key).toBe('element_web_tarball');
  });
  it('a checksum that is not one', () => expect(err({ sha256: 'ABC' }).message).toMatch(/64 lower-case hex digits/));
  it('a version that cannot be a folder name', () => expect(err({ version: '../1' }).message).toMatch(/letters, digits/));
  it('a URL is not read here (the host verifies it)', () => {
    expect(release({ dir: D, version: '1.0.0', source: 'https://unreachable.invalid/x.tgz', sha256: A }).id).toBe(D);
  });
});

// The generated shell, run for real with /bin/sh against a temp folder and real tarballs.
describe('release scripts on a real folder', () => {
  let work: string;
  let state: string;
  let dir: string;
  beforeEach(() => {
    work = tempDir();
    state = tempDir('mxp-state-');
    dir = join(work, 'element');
  });

  /** A tarball with one top folder holding index.html and a bundle, like Element's releases. */
  function tarball(version: string, opts: { top?: boolean } = {}): { path: string; sha: string } {
    const src = join(work, `src-${version}`);
    const top = opts.top === false ? src : join(src, `element-v${version}`);
    mkdirSync(join(top, 'bundles'), { recursive: true });
    writeFileSync(join(top, 'index.html'), `<title>Element ${version}</title>\n`);
    writeFileSync(join(top, 'bundles', 'app.js'), `// ${version}\n`);
    execFileSync('chmod', ['600', join(top, 'index.html')]); // unreadable for the web server as packed
    const path = join(work, `element-v${version}${opts.top === false ? '-flat' : ''}.tar.gz`);
    execFileSync('tar', ['-czf', path, '-C', src, opts.top === false ? '.' : `element-v${version}`]);
    return { path, sha: sha(readFileSync(path)) };
  }

  const relocate = (s: string) => s.replaceAll(STATE_DIR, state);
  function converge(o: Omit<ReleaseOptions, 'dir'>, bin?: string) {
    const r = release({ dir, ...o });
    const probed = parseProbeOutput(sh(probeScript([r])).stdout, [r]);
    expect(probed.errors[0]).toBeUndefined();
    const p = r.plan(probed.states[0] as ReleaseState);
    if (p === null) return { plan: null, out: '' };
    if (isUnresolved(p)) throw new Error(p.unresolved);
    const res = sh(relocate(applyScript([{ kind: 'change', id: 0, script: p.script, notify: [] }])), bin ? { fakeBin: bin } : {});
    const out = parseApplyOutput(res.stdout);
    return { plan: p, ok: out.ok.has(0), out: out.failed?.output ?? '' };
  }
  const current = () => readlinkSync(join(dir, 'current'));
  const served = (f = 'index.html') => readFileSync(join(dir, 'current', f), 'utf8');
  const versions = () => readdirSync(join(dir, 'versions')).sort();

  it('installs from a local tarball, strips the top folder, makes it readable, and is then a no-op', () => {
    const t = tarball('1.0.0');
    const first = converge({ version: '1.0.0', source: t.path, sha256: t.sha });
    expect(first.ok, first.out).toBe(true);
    expect(first.plan!.action).toBe('+');
    expect(current()).toBe('versions/1.0.0');
    expect(served()).toBe('<title>Element 1.0.0</title>\n');
    expect(served('bundles/app.js')).toBe('// 1.0.0\n');
    expect((statSync(join(dir, 'current', 'index.html')).mode & 0o777).toString(8)).toBe('644');
    expect(readFileSync(join(dir, 'versions', '1.0.0.sha256'), 'utf8')).toBe(`${t.sha}\n`);
    expect(versions()).toEqual(['1.0.0', '1.0.0.sha256']); // no temp folder left
    expect(converge({ version: '1.0.0', source: t.path, sha256: t.sha }).plan).toBeNull();
  });

  it('a tarball without a top folder is unpacked as it is', () => {
    const t = tarball('1.0.0', { top: false });
    expect(converge({ version: '1.0.0', source: t.path, sha256: t.sha }).ok).toBe(true);
    expect(served()).toContain('Element 1.0.0');
  });

  it('fetches a URL with curl (a stand-in here), verifies it, and fails clearly on a mismatch leaving the served version alone', () => {
    const v1 = tarball('1.0.0');
    expect(converge({ version: '1.0.0', source: v1.path, sha256: v1.sha }).ok).toBe(true);
    const v2 = tarball('2.0.0');
    // curl -fsSL --retry 2 -o FILE URL: the stand-in copies the local file the URL names.
    const bin = fakeBin({ curl: `cp "${work}/$(basename "$6")" "$5"` });
    const bad = converge({ version: '2.0.0', source: 'https://dl.example/element-v2.0.0.tar.gz', sha256: B }, bin);
    expect(bad.ok).toBe(false);
    expect(bad.out).toBe(`sha256 mismatch for https://dl.example/element-v2.0.0.tar.gz: got ${v2.sha}, expected ${B}; nothing was unpacked or switched`);
    expect(current()).toBe('versions/1.0.0');
    expect(versions()).toEqual(['1.0.0', '1.0.0.sha256']);

    const good = converge({ version: '2.0.0', source: 'https://dl.example/element-v2.0.0.tar.gz', sha256: v2.sha }, bin);
    expect(good.ok, good.out).toBe(true);
    expect(current()).toBe('versions/2.0.0');
    expect(served()).toContain('Element 2.0.0');
    expect(versions()).toEqual(['1.0.0', '1.0.0.sha256', '2.0.0', '2.0.0.sha256']);
  });

  it('keeps the newest versions, and switching back to a kept one needs no tarball', () => {
    const ts = ['1.0.0', '2.0.0', '3.0.0'].map((v) => ({ v, ...tarball(v) }));
    for (const t of ts) expect(converge({ version: t.v, source: t.path, sha256: t.sha, keep: 2 }).ok).toBe(true);
    expect(versions()).toEqual(['2.0.0', '2.0.0.sha256', '3.0.0', '3.0.0.sha256']);
    // Back to 2.0.0: a link change only (the source is not even read).
    const back = converge({ version: '2.0.0', source: 'https://unreachable.invalid/x.tgz', sha256: ts[1]!.sha, keep: 2 });
    expect(back.ok, back.out).toBe(true);
    expect(back.plan!.summary).toBe('switch current versions/3.0.0 → versions/2.0.0');
    expect(served()).toContain('Element 2.0.0');
  });

  it('another tarball under the served version name replaces it, current never dangling', () => {
    const first = tarball('1.0.0');
    expect(converge({ version: '1.0.0', source: first.path, sha256: first.sha }).ok).toBe(true);
    // The same version name, different bytes (a re-spun release).
    writeFileSync(join(work, 'src-1.0.0', 'element-v1.0.0', 'index.html'), '<title>Element 1.0.0 respin</title>\n');
    const respin = join(work, 'respin.tar.gz');
    execFileSync('tar', ['-czf', respin, '-C', join(work, 'src-1.0.0'), 'element-v1.0.0']);
    const r = converge({ version: '1.0.0', source: respin, sha256: sha(readFileSync(respin)) });
    expect(r.ok, r.out).toBe(true);
    expect(r.plan!.summary).toMatch(/^reinstall 1\.0\.0/);
    expect(current()).toBe('versions/1.0.0');
    expect(served()).toContain('respin');
    expect(versions()).toEqual(['1.0.0', '1.0.0.sha256']);
  });

  it('a folder without its record (an interrupted run) is not taken for installed', () => {
    const t = tarball('1.0.0');
    mkdirSync(join(dir, 'versions', '1.0.0'), { recursive: true });
    const r = converge({ version: '1.0.0', source: t.path, sha256: t.sha });
    expect(r.ok, r.out).toBe(true);
    expect(served()).toContain('Element 1.0.0');
    expect(lstatSync(join(dir, 'current')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(dir, '.mxp-current'))).toBe(false);
  });
});

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
