// The batch writer (engine/file-batch.ts) against mxp_put, run for real on this machine: the same
// steps applied one by one and as a batch must leave the same files, backups and notifications.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { batchPayload } from '../../../src/engine/file-batch.ts';
import { applyScript, parseApplyOutput, probeScript, parseProbeOutput, STATE_DIR, type ApplyStep } from '../../../src/engine/scripts.ts';
import { planDirectory } from '../../../src/resources/directory.ts';
import { file, planFile, type FileOptions } from '../../../src/resources/file.ts';
import type { Change } from '../../../src/resources/types.ts';
import { fakeBin, sh, tempDir } from '../helpers.ts';

const ME = userInfo().username;
const MY_GROUP = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();

/** One world: files under `work`, mxplay's state under `state`. */
function world() {
  const work = tempDir();
  const state = tempDir('mxp-state-');
  const run = (script: string, bin?: string) => {
    const r = sh(script.replaceAll(STATE_DIR, state), bin ? { fakeBin: bin } : {});
    return { ...parseApplyOutput(r.stdout), stdout: r.stdout };
  };
  const probe = (o: FileOptions) => {
    const r = file(o);
    const out = parseProbeOutput(sh(probeScript([r]).replaceAll(STATE_DIR, state)).stdout, [r]);
    return out.states[0] as Parameters<typeof planFile>[1];
  };
  /** Steps for these files as planned from their state now; `batched`: with the write the batch uses. */
  const steps = (files: (FileOptions & { notify?: string[] })[], batched: boolean): ApplyStep[] =>
    files.map(({ notify = [], ...o }, id) => {
      const c = planFile(o, probe(o)) as Change;
      return { kind: 'change', id, script: c.script, notify, ...(batched && c.write ? { write: c.write } : {}) };
    });
  /** Everything under a folder: kind, mode, owner, link target or content. */
  const tree = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        const st = lstatSync(p);
        const key = relative(dir, p);
        if (st.isSymbolicLink()) out[key] = `link -> ${readlinkSync(p)}`;
        else if (st.isDirectory()) (out[key] = `dir ${(st.mode & 0o7777).toString(8)}`), walk(p);
        else out[key] = `file ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${readFileSync(p).toString('base64')}`;
      }
    };
    walk(dir);
    return out;
  };
  const pending = () => (existsSync(join(state, 'pending-handlers')) ? readFileSync(join(state, 'pending-handlers'), 'utf8') : '');
  return { work, state, run, steps, tree, pending, backups: () => (existsSync(join(state, 'backup', work)) ? tree(join(state, 'backup', work)) : {}) };
}

const HOSTILE = `it's a "file" $(touch pwned) \`x\` \\ back|pipe`;
const BINARY = Buffer.concat([Buffer.from([0, 1, 2, 255, 10]), Buffer.from("\nMXP_EOF\n'MXP_EOF'\n")]);

/** The same starting point in a world: a file, a symlink, earlier versions of one file, a hostile name. */
function setUp(w: ReturnType<typeof world>) {
  const at = (n: string) => join(w.work, n);
  writeFileSync(at('old.conf'), 'old\n');
  chmodSync(at('old.conf'), 0o640);
  utimesSync(at('old.conf'), OLD_TIME, OLD_TIME);
  writeFileSync(at('target'), 'target\n');
  symlinkSync('target', at('link.conf'));
  // two earlier runs leave backup versions of versions.conf
  for (const v of ['v1\n', 'v2\n']) w.run(applyScript(w.steps([{ path: at('versions.conf'), content: v, ...mine }], false)));
  mkdirSync(at('sub'));
  return [
    { path: at('new.conf'), content: 'new\n', mode: 0o644, ...mine, notify: ['reload web'] },
    { path: at('old.conf'), content: 'changed\n', mode: 0o600, ...mine, notify: ['restart app', 'reload web'] },
    { path: at('link.conf'), content: 'file now\n', ...mine },
    { path: at('versions.conf'), content: 'v3\n', ...mine, notify: [`it's "quoted"`] },
    { path: join(at('sub'), HOSTILE), content: BINARY, mode: 0o600, owner: '0', group: '0' },
  ];
}

const mine = { owner: ME, group: MY_GROUP };
const OLD_TIME = 1_600_000_000;

describe('the batch writer', () => {
  it('leaves exactly what mxp_put leaves, step by step: files, modes, owners, backups with their versions, notifications', () => {
    const one = world();
    const batch = world();
    const byOne = one.steps(setUp(one), false);
    const byBatch = batch.steps(setUp(batch), true);
    expect(byBatch.filter((s) => s.kind === 'change' && s.write)).toHaveLength(5);
    const script = applyScript(byBatch);
    expect(script).toContain('perl -e "$MXP_PL"');
    expect(script).not.toContain('mxp_put ');
    const r1 = one.run(applyScript(byOne));
    const r2 = batch.run(script);
    for (const r of [r1, r2]) {
      expect(r.failed).toBeUndefined();
      expect(r.done).toBe(true);
      expect([...r.ok]).toEqual([0, 1, 2, 3, 4]);
    }
    expect(batch.tree(batch.work)).toEqual(one.tree(one.work));
    expect(batch.backups()).toEqual(one.backups());
    expect(batch.pending()).toBe(one.pending());
    // the backup of a replaced file keeps its times, as cp --preserve=timestamps does
    expect(Math.floor(statSync(join(batch.state, 'backup', batch.work, 'old.conf')).mtimeMs / 1000)).toBe(OLD_TIME);
    expect(readFileSync(join(batch.work, 'sub', HOSTILE)).equals(BINARY)).toBe(true);
    expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
  });

  it('directories: made with their parents, mode and owner, exactly as mkdir -p, chmod and chown make them', () => {
    const one = world();
    const batch = world();
    const dirs = (w: ReturnType<typeof world>) =>
      [
        { path: join(w.work, 'a'), mode: 0o2750, owner: ME, group: MY_GROUP },
        { path: join(w.work, 'deep/er/still'), mode: 0o700, owner: '0', group: '0' },
        { path: join(w.work, HOSTILE), mode: 0o755, owner: ME, group: MY_GROUP },
      ].map((o, id): ApplyStep => {
        const c = planDirectory(o, { kind: 'none' }) as Change;
        return { kind: 'change', id, script: c.script, notify: [`d${id}`], ...(w === batch ? { write: c.write! } : {}) };
      });
    const script = applyScript(dirs(batch));
    expect(script).toContain('perl -e');
    for (const [w, sc] of [[one, applyScript(dirs(one))], [batch, script]] as const) {
      const r = w.run(sc);
      expect(r.failed).toBeUndefined();
      expect([...r.ok]).toEqual([0, 1, 2]);
    }
    expect(batch.tree(batch.work)).toEqual(one.tree(one.work));
    expect(batch.tree(batch.work)['a']).toBe('dir 2750');
    expect(batch.pending()).toBe(one.pending());
  });

  it('a file that cannot be written fails its own step, naming it: those before stay, with their notifications; none after runs', () => {
    const w = world();
    const at = (n: string) => join(w.work, n);
    const s = w.steps([
      { path: at('a.conf'), content: 'a\n', ...mine, notify: ['reload web'] },
      { path: at('no-such-dir/b.conf'), content: 'b\n', ...mine, notify: ['restart app'] },
      { path: at('c.conf'), content: 'c\n', ...mine },
    ], true);
    const r = w.run(applyScript(s));
    expect([...r.ok]).toEqual([0]);
    expect(r.failed).toMatchObject({ step: '1' });
    expect(r.failed!.code).not.toBe(0);
    expect(r.failed!.output).toContain('no-such-dir/.b.conf.mxp-tmp');
    expect(r.done).toBe(false);
    expect(readFileSync(at('a.conf'), 'utf8')).toBe('a\n');
    expect(existsSync(at('c.conf'))).toBe(false);
    expect(w.pending()).toBe('reload web\n');
  });

  it('an owner that does not exist fails the step as chown would, and leaves no temp file behind the name', () => {
    const w = world();
    // planned while the owner existed (the probe said so); gone when the apply runs
    const s = [{ path: join(w.work, 'a.conf'), content: 'a\n', ...mine }, { path: join(w.work, 'b.conf'), content: 'b\n', owner: 'mxp-no-such-user-x', group: MY_GROUP }].map(
      (o, id): ApplyStep => {
        const c = planFile(o, { kind: 'none' }) as Change;
        return { kind: 'change', id, script: c.script, notify: [], write: c.write! };
      },
    );
    const r = w.run(applyScript(s));
    expect(r.failed).toMatchObject({ step: '1' });
    expect(r.failed!.output).toMatch(/invalid user: 'mxp-no-such-user-x'/);
    expect(existsSync(join(w.work, 'b.conf'))).toBe(false);
  });

  it('when perl cannot run, the first file of the batch fails with the shell’s own words', () => {
    const w = world();
    const s = w.steps([
      { path: join(w.work, 'a.conf'), content: 'a\n', ...mine },
      { path: join(w.work, 'b.conf'), content: 'b\n', ...mine },
    ], true);
    const r = w.run(applyScript(s), fakeBin({ perl: 'echo "perl: broken here" >&2; exit 3' }));
    expect(r.ok.size).toBe(0);
    expect(r.failed).toMatchObject({ step: '0', code: 3, output: 'perl: broken here' });
  });

  it('a dead stdout (the connection dropped) does not stop it: every file and notification still happens', async () => {
    const w = world();
    const s = w.steps(Array.from({ length: 40 }, (_x, i) => ({ path: join(w.work, `f${i}`), content: `${i}\n`.repeat(2000), ...mine, notify: [`h${i % 3}`] })), true);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'ignore'] });
      child.stdout.destroy();
      child.on('error', reject);
      child.on('close', () => resolve());
      child.stdin.end(applyScript(s).replaceAll(STATE_DIR, w.state));
    });
    for (let i = 0; i < 40; i++) expect(readFileSync(join(w.work, `f${i}`), 'utf8')).toBe(`${i}\n`.repeat(2000));
    expect(w.pending()).toBe('h0\nh1\nh2\n');
  });

  it('a single file, a guarded step or a member of a validation set keeps its own mxp_put', () => {
    const w = world();
    const [a, b] = w.steps([{ path: join(w.work, 'a'), content: 'a', ...mine }, { path: join(w.work, 'b'), content: 'b', ...mine }], true) as Extract<ApplyStep, { kind: 'change' }>[];
    expect(applyScript([a!])).toContain('mxp_put ');
    expect(applyScript([a!, { ...b!, guard: 'false' }])).not.toContain('perl -e');
    expect(applyScript([a!, { ...b!, group: 0 }, { kind: 'validate', group: 0, command: 'true', notify: [] }])).not.toContain('perl -e');
    expect(applyScript([a!, b!])).toContain('perl -e');
  });

  it('a file with a command to run after it (onChange) is not batched', () => {
    const c = planFile({ path: '/etc/x', content: 'x', onChange: 'touch /run/x' }, { kind: 'none' }) as Change;
    expect(c.write).toBeUndefined();
    expect((planFile({ path: '/etc/x', content: 'x' }, { kind: 'none' }) as Change).write).toMatchObject({ path: '/etc/x', mode: 0o644, owner: 'root', group: 'root' });
  });

  it('the payload frames each field by its length: no value can end a field early', () => {
    const p = batchPayload([{ id: 7, write: { path: '/a\n1 2 3', mode: 0o640, owner: 'ü', group: 'g', content: 'x\ny' }, notify: ['h 1\n'] }]);
    expect(p.toString('utf8')).toBe(`f 7 640 2 1 8 3 1\nüg/a\n1 2 3x\ny4\nh 1\n`);
  });
});
