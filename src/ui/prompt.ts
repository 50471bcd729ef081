import { UserError } from '../errors.ts';
import { createInterface } from 'node:readline/promises';

/** Ask a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface StdinLines {
  lines: string[];
  ended: boolean;
  waiters: (() => void)[];
}
let stdinLines: StdinLines | undefined;

/** The next line of a stdin that is not a terminal (read once, shared by every question). */
async function nextStdinLine(): Promise<string | undefined> {
  if (!stdinLines) {
    const s: StdinLines = { lines: [], ended: false, waiters: [] };
    stdinLines = s;
    let buf = '';
    const wake = () => s.waiters.splice(0).forEach((w) => w());
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        s.lines.push(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
      wake();
    });
    process.stdin.on('end', () => {
      if (buf) s.lines.push(buf);
      buf = '';
      s.ended = true;
      wake();
    });
  }
  const s = stdinLines;
  process.stdin.resume();
  while (!s.lines.length && !s.ended) await new Promise<void>((r) => s.waiters.push(r));
  process.stdin.pause();
  return s.lines.shift();
}

/**
 * Ask for a secret: on a terminal without echo (Ctrl-C ends the run); without one, the next line
 * of stdin (`pass show x | mxplay run ... -K`). Undefined when stdin has nothing left.
 */
export async function askSecret(question: string): Promise<string | undefined> {
  const input = process.stdin;
  if (!input.isTTY) return nextStdinLine();
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (v: string | undefined, e?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (e) reject(e);
      else resolve(v);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(value);
        if (ch === '\u0003') return done(undefined, new UserError('interrupted; nothing was changed on any host'));
        if (ch === '\u0004') return done(value || undefined);
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
