// Become (sudo) for one exec, the same over SSH and locally.
//
// Without a become password the shell is `sudo -n`: a sudo that wants a password fails at once with
// its own message. With one, it is `sudo -S -p PROMPT`, and the exchange is driven from here:
// nothing is written to the exec's stdin until either sudo prints PROMPT on stderr (then the
// password, once) or the root shell prints MARKER on stdout (then the script). So the password is
// only ever read by sudo: never seen by the script's shell, never in argv, never echoed, and a sudo
// that does not ask (NOPASSWD, a cached ticket) never gets it. A second PROMPT means the password was
// refused: stdin is closed, and sudo ends with its own words ("Sorry, try again.", "incorrect
// password attempt"), which become the host's failure.
import { randomBytes } from 'node:crypto';
import { q } from '../resources/sh.ts';

/** sudo could not start the shell as the become user: the host fails with sudo's own message. */
export class BecomeError extends Error {}

export const BECOME_METHODS = ['sudo'] as const;

export interface BecomePlan {
  /** The exec's command line: it never holds a secret. */
  command: string;
  /** Printed by the become user's shell once it runs, before it reads the script. */
  marker?: string;
  /** sudo's password prompt (only with a become password). */
  prompt?: string;
  becomeUser?: string;
}

/** How one exec is started: a plain sh reading the script from stdin, or that sh through sudo. */
export function becomePlan(o: { user: string; become: boolean; becomeUser?: string | undefined; withPassword: boolean }): BecomePlan {
  const target = o.becomeUser ?? 'root';
  if (!o.become || o.user === target) return { command: '/bin/sh -s' };
  const nonce = randomBytes(8).toString('hex');
  const marker = `MXPLAY-BECOME-OK-${nonce}`;
  const prompt = `[mxplay-sudo-${nonce}] password: `;
  const auth = o.withPassword ? `-S -p '${prompt}'` : '-n';
  return {
    command: `sudo ${auth} -H -u ${q(target)} /bin/sh -c 'echo ${marker}; exec /bin/sh -s'`,
    marker,
    ...(o.withPassword ? { prompt } : {}),
    becomeUser: target,
  };
}

/** The started process, as far as the exchange needs it. */
export interface Proc {
  write(data: string): void;
  end(): void;
  kill(): void;
}

export interface ProcEvents {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  close(code: number | null, signal?: string | null): void;
}

export interface DriveResult {
  code: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
  /** Set when the become user's shell never started: why. */
  becomeFailed?: 'exit' | 'refused' | 'timeout';
  /** How many times sudo asked for the password (with a become plan that has a prompt). */
  asked?: number;
}

/**
 * Runs `script` through a started process. With a become plan, waits for the marker (answering
 * sudo's prompt with the password once) before sending the script.
 */
export function drive(
  start: (ev: ProcEvents) => Proc,
  script: string,
  plan: BecomePlan,
  o: { password?: string | undefined; timeoutMs: number },
): Promise<DriveResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let head: Buffer[] = [];
    let started = !plan.marker;
    let answered = 0;
    let refused = false;
    let timedOut = false;
    let done = false;
    let proc: Proc | undefined;
    const send = (data: string, end: boolean) => {
      try {
        proc!.write(data);
        if (end) proc!.end();
      } catch {
        /* the process is gone: its close reports why */
      }
    };
    const timer = plan.marker
      ? setTimeout(() => {
          if (started) return;
          timedOut = true;
          try {
            proc?.kill();
          } catch {
            /* gone */
          }
          // Not waiting for the close: a child of sudo may keep the output open.
          finish(null, null);
        }, o.timeoutMs)
      : undefined;
    proc = start({
      stdout(chunk) {
        if (started) return void out.push(chunk);
        head.push(chunk);
        const all = Buffer.concat(head);
        const at = all.indexOf(`${plan.marker}\n`);
        if (at < 0) return;
        started = true;
        clearTimeout(timer);
        out.push(all.subarray(at + plan.marker!.length + 1));
        head = [];
        send(script, true);
      },
      stderr(chunk) {
        err.push(chunk);
        if (started || !plan.prompt) return;
        const prompts = Buffer.concat(err).toString('latin1').split(plan.prompt).length - 1;
        if (prompts <= answered) return;
        answered = prompts;
        if (prompts === 1 && o.password !== undefined) send(`${o.password}\n`, false);
        else {
          // Asked again: the password was refused. sudo reads end-of-file and gives up with its message.
          refused = true;
          try {
            proc!.end();
          } catch {
            /* gone */
          }
        }
      },
      close: (code, signal) => finish(code, signal),
    });
    if (started) send(script, true);

    function finish(code: number | null, signal?: string | null) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (plan.prompt) stderr = stderr.split(plan.prompt).join('');
      const r: DriveResult = { code, signal: signal ?? null, stdout: Buffer.concat(out).toString('utf8'), stderr };
      if (!started) r.becomeFailed = timedOut ? 'timeout' : refused ? 'refused' : 'exit';
      if (plan.prompt) r.asked = answered;
      resolve(r);
    }
  });
}

/** How one exec's become went, for the verbose log (-vvv): never the password, only whether sudo asked for it. */
export function becomeOutcome(r: DriveResult, becomeUser: string, user: string): string {
  const how = r.asked === undefined ? 'sudo -n' : r.asked === 0 ? 'sudo did not ask for the password (NOPASSWD or a cached ticket)' : r.asked === 1 ? 'sudo asked for the password once: sent' : `sudo asked ${r.asked} times: the password was refused`;
  return `become ${becomeUser} (as ${user}): ${r.becomeFailed ? `failed (${r.becomeFailed})` : 'the shell started'}; ${how}`;
}

/** The host's failure when sudo did not start the shell: sudo's own words, and what to do. */
export function becomeFailureMessage(r: DriveResult, o: { user: string; becomeUser: string; hadPassword: boolean; timeoutMs: number }): string {
  const said = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n')
    .slice(-2000);
  const what = `become ${o.becomeUser} (sudo, as ${o.user})`;
  if (r.becomeFailed === 'timeout') {
    return `${what}: sudo did not start a shell within ${o.timeoutMs / 1000}s${said ? `: ${said}` : ''}`;
  }
  let msg = `${what} failed${r.code !== null ? ` (exit ${r.code})` : ''}: ${said || 'sudo printed nothing'}`;
  if (r.becomeFailed === 'refused') msg += '\nThe become password (-K / ansible_become_password) was refused by sudo.';
  else if (!o.hadPassword && /password is required|a terminal is required/i.test(said)) {
    msg += `\nsudo asks ${o.user} for a password: give it with -K (--ask-become-pass) or ansible_become_password.`;
  }
  return msg;
}
