// Running control-machine commands with errors that say what failed and why:
// the command line, the exit status and the tail of its output.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Fail (and kill the command) after this long. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFail?: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
    why: string,
  ) {
    const out = tail(`${result.stderr}\n${result.stdout}`.trim(), 20);
    super(`${argv.join(' ')}: ${why}${out ? `\n${indent(out)}` : ''}`);
    this.name = 'CommandError';
  }
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: cannot start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (timedOut) return reject(new CommandError(argv, result, `timed out after ${opts.timeoutMs} ms`));
      if (result.code !== 0 && !opts.allowFail) {
        return reject(new CommandError(argv, result, signal ? `killed by ${signal}` : `exit ${result.code}`));
      }
      resolve(result);
    });
  });
}

/** True when the command exits 0; for probes such as "is this installed". */
export async function succeeds(argv: string[], timeoutMs = 30_000): Promise<boolean> {
  try {
    return (await run(argv, { allowFail: true, timeoutMs })).code === 0;
  } catch {
    return false;
  }
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

export function indent(text: string): string {
  return text.replace(/^/gm, '  | ');
}

/** Console logs are full of terminal control sequences (colours, cursor
 * moves, OSC titles); drop them before showing a log tail in an error. */
export function plainText(text: string): string {
  return text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r/g, '');
}
