// The become exchange (become.ts) against a stand-in sudo that behaves as sudo -S does: it prompts
// on stderr, reads one line, says "Sorry, try again." and prompts again on a wrong password.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { becomeFailureMessage, becomePlan, drive, type BecomePlan } from '../../../src/transport/become.ts';
import { tempDir } from '../helpers.ts';

const FAKE_SUDO = `#!/bin/sh
mode=$1 prompt=$2 marker=$3
case $mode in
  fail) echo "sudo: a password is required" >&2; exit 1 ;;
  hang) sleep 30 ;;
  ask)
    n=0
    while :; do
      printf '%s' "$prompt" >&2
      if ! IFS= read -r pw; then echo "sudo: no password was provided" >&2; echo "sudo: $n incorrect password attempt" >&2; exit 1; fi
      [ "$pw" = "right pass'word" ] && break
      echo "Sorry, try again." >&2
      n=$((n + 1))
    done ;;
esac
echo "$marker"
exec /bin/sh -s
`;

function run(mode: string, plan: BecomePlan, password: string | undefined, script: string, timeoutMs = 5000) {
  const fake = join(tempDir(), 'sudo');
  writeFileSync(fake, FAKE_SUDO, { mode: 0o755 });
  const argv: string[] = [];
  const r = drive(
    (ev) => {
      const args = [fake, mode, plan.prompt ?? '', plan.marker ?? ''];
      argv.push(...args);
      const child = spawn('/bin/sh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdout.on('data', ev.stdout);
      child.stderr.on('data', ev.stderr);
      child.stdin.on('error', () => {});
      child.on('close', (code, signal) => ev.close(code, signal));
      return { write: (d) => child.stdin.write(d), end: () => child.stdin.end(), kill: () => child.kill() };
    },
    script,
    plan,
    { password, timeoutMs },
  );
  return r.then((res) => ({ ...res, argv }));
}

const PASSWORD = "right pass'word";

describe('become exchange', () => {
  it('the command line: sudo -n without a password, sudo -S -p PROMPT with one; never a secret; none as the same user', () => {
    expect(becomePlan({ user: 'deploy', become: true, withPassword: false }).command).toMatch(/^sudo -n -H -u root \/bin\/sh -c 'echo MXPLAY-BECOME-OK-[0-9a-f]+; exec \/bin\/sh -s'$/);
    const p = becomePlan({ user: 'deploy', become: true, becomeUser: 'postgres', withPassword: true });
    expect(p.command).toMatch(/^sudo -S -p '\[mxplay-sudo-[0-9a-f]+\] password: ' -H -u postgres /);
    expect(becomePlan({ user: 'root', become: true, withPassword: true })).toEqual({ command: '/bin/sh -s' });
    expect(becomePlan({ user: 'deploy', become: false, withPassword: true })).toEqual({ command: '/bin/sh -s' });
  });

  it('a sudo that asks: the password once, on stdin; the script runs as the become user; the prompt is gone from stderr', async () => {
    const plan = becomePlan({ user: 'deploy', become: true, withPassword: true });
    const r = await run('ask', plan, PASSWORD, 'echo "ran: $(echo hi)"; echo warn >&2; read -r rest; echo "rest=[$rest]"\n');
    expect(r.becomeFailed).toBeUndefined();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran: hi\nrest=[]\n');
    expect(r.stderr).toBe('warn\n');
    expect(r.argv.join(' ')).not.toContain(PASSWORD);
  });

  it('a sudo that does not ask (NOPASSWD, a cached ticket) never gets the password: the script shell cannot see it', async () => {
    const plan = becomePlan({ user: 'deploy', become: true, withPassword: true });
    const r = await run('nopass', plan, PASSWORD, 'cat\n');
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('right pass');
  });

  it('a wrong password: sudo\'s own words, no hang, no second try', async () => {
    const plan = becomePlan({ user: 'deploy', become: true, withPassword: true });
    const t0 = Date.now();
    const r = await run('ask', plan, 'wrong', 'echo never\n');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.becomeFailed).toBe('refused');
    expect(r.stdout).toBe('');
    const msg = becomeFailureMessage(r, { user: 'deploy', becomeUser: 'root', hadPassword: true, timeoutMs: 5000 });
    expect(msg).toContain('become root (sudo, as deploy) failed (exit 1): Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt');
    expect(msg).toContain('The become password (-K / ansible_become_password) was refused by sudo.');
    expect(msg).not.toContain('wrong');
  });

  it('sudo -n that needs a password: its message, and what to do', async () => {
    const plan = becomePlan({ user: 'deploy', become: true, withPassword: false });
    const r = await run('fail', plan, undefined, 'echo never\n');
    expect(r.becomeFailed).toBe('exit');
    expect(becomeFailureMessage(r, { user: 'deploy', becomeUser: 'root', hadPassword: false, timeoutMs: 5000 })).toBe(
      'become root (sudo, as deploy) failed (exit 1): sudo: a password is required\nsudo asks deploy for a password: give it with -K (--ask-become-pass) or ansible_become_password.',
    );
  });

  it('a sudo that never starts the shell is given up after the timeout', async () => {
    const plan = becomePlan({ user: 'deploy', become: true, withPassword: false });
    const r = await run('hang', plan, undefined, 'echo never\n', 300);
    expect(r.becomeFailed).toBe('timeout');
    expect(becomeFailureMessage(r, { user: 'deploy', becomeUser: 'root', hadPassword: false, timeoutMs: 300 })).toMatch(/sudo did not start a shell within 0.3s/);
  });

  it('without become: the script straight to sh', async () => {
    const r = await run('nopass', { command: '/bin/sh -s' }, undefined, 'echo direct\n');
    // The stand-in is given the script as its own stdin: it echoes an empty marker, then runs it.
    expect(r.stdout).toBe('\ndirect\n');
  });
});
