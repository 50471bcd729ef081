import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../../../src/plan-file/run-format.ts';

export const BIN = fileURLToPath(new URL('../../../bin/mxplay.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout when --json was given. */
  json?: RunReport;
}

/** Run the real CLI as a user would, in a child process; never throws on a non-zero exit. */
export function mxplay(args: string[], opts: { cwd: string; input?: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const r: CliResult = { code: code ?? 1, stdout, stderr };
      if (args.includes('--json')) {
        try {
          r.json = JSON.parse(stdout);
        } catch {
          /* left undefined: the assertion on it will say so */
        }
      }
      resolve(r);
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function changedOf(r: CliResult, host: string): number {
  const res = r.json?.results.find((x) => x.host === host);
  if (!res) throw new Error(`no result for ${host} in:\n${r.stdout}\n${r.stderr}`);
  return res.changed;
}
