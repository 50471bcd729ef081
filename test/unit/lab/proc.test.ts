// The lab decides "nspawn died" from /proc; a process in the middle of an
// exec must never look dead. Real processes, no mocks: the race is the kernel's.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isProcess } from '../../lab/proc.ts';

/** Like the lab's nspawn start: two shells exec'ing onwards, the marker in every argv. */
function startExecChain(marker: string) {
  const argv = ['-c', 'exec "$@"', 'x', '/bin/sh', '-c', 'exec "$@"', 'y', process.execPath, '-e', 'setTimeout(() => {}, 3000)', marker];
  return spawn('/bin/sh', argv, { stdio: 'ignore' });
}

describe('isProcess', () => {
  it('keeps seeing a process while it execs through sh into its final program', async () => {
    for (let round = 0; round < 40; round++) {
      const marker = `mxplay-exec-chain-${process.pid}-${round}`;
      const child = startExecChain(marker);
      try {
        const until = Date.now() + 60;
        while (Date.now() < until) expect(await isProcess(child.pid, [marker])).toBe(true);
      } finally {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });

  it('reports a process that has exited, and one whose argv lacks the marker', async () => {
    const child = startExecChain('mxplay-exec-chain-gone');
    expect(await isProcess(child.pid, ['not-in-its-argv'])).toBe(false);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await isProcess(child.pid, ['mxplay-exec-chain-gone'])).toBe(false);
  });
});
