// ssh -G calls asked together run together, through one shell: each call still gets its own exit
// code and outputs, whatever its arguments hold. A stand-in "ssh" prints what it was given.
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSshG } from '../../../src/transport/ssh-g.ts';

describe('runSshG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mxp-ssh-g-'));
  const fake = join(dir, 'ssh');
  // Prints each argument on a line of its own, on stderr the shell above its subshell, and exits with the number after --exit.
  writeFileSync(fake, '#!/bin/sh\ncode=0\nfor a in "$@"; do printf "%s\\n" "$a"; [ "$prev" = --exit ] && code=$a; prev=$a; done\nread -r _ _ _ gp _ < /proc/$PPID/stat; echo "pid $$ grandparent $gp" >&2\nexit $code\n');
  chmodSync(fake, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hostile = ["it's", '$(touch /tmp/mxp-ssh-g-owned)', 'a b', '"; exit 9; "', '\\', '`id`', '*'];

  it('calls made in one turn run at once under one shell, each with its own arguments, outputs and exit code', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('mxplay-ssh-g-'));
    const calls = hostile.map((h, i) => runSshG(fake, ['-G', h, '--exit', String(i % 3)]));
    const rs = await Promise.all(calls);
    rs.forEach((r, i) => {
      expect(r.stdout).toBe(`-G\n${hostile[i]}\n--exit\n${i % 3}\n`);
      expect(r.code).toBe(i % 3);
      expect(r.error).toBeUndefined();
    });
    // one shell started all of them (each in a subshell of its own)
    const parents = new Set(rs.map((r) => /grandparent (\d+)/.exec(r.stderr)![1]));
    expect(parents.size).toBe(1);
    expect(readdirSync('/tmp').includes('mxp-ssh-g-owned')).toBe(false);
    // its folder of outputs is gone
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('mxplay-ssh-g-'))).toEqual(before);
  });

  it('a call alone runs as it is; one that cannot start says why', async () => {
    const r = await runSshG(fake, ['-G', 'alone']);
    expect(r).toMatchObject({ code: 0, stdout: '-G\nalone\n' });
    const missing = await runSshG(join(dir, 'no-such-ssh'), ['-G', 'x']);
    expect(missing.code).not.toBe(0);
    const [a, b] = await Promise.all([runSshG(join(dir, 'no-such-ssh'), ['-G', 'x']), runSshG(fake, ['-G', 'y'])]);
    expect(a.code).toBe(127);
    expect(b).toMatchObject({ code: 0, stdout: '-G\ny\n' });
  });
});
