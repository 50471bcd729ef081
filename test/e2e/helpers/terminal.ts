import { spawn } from 'node:child_process';
import { BIN } from './mxplay.ts';

export interface TerminalRun {
  code: number;
  /** Everything the terminal showed (stdout and stderr, with the answers echoed). */
  output: string;
  /** The questions answered, in order. */
  asked: string[];
}

/**
 * The real CLI on a terminal, as a person runs it: script(1) gives it a pty. Each answer is typed
 * when its question appears (typed all at once, a first prompt would read them all).
 */
export function onTerminal(args: string[], answers: Map<string, string>, cwd: string, deadlineMs = 300_000): Promise<TerminalRun> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const asked: string[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      for (const [q, a] of answers) {
        if (!asked.includes(q) && output.includes(q)) {
          asked.push(q);
          child.stdin.write(`${a}\n`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? 1, output, asked });
    });
  });
}
