import { spawn } from 'node:child_process';
import { BecomeError, becomeFailureMessage, becomeOutcome, becomePlan, drive } from './become.ts';
import { verbose } from '../log.ts';
import type { Connection, ExecResult } from './connection.ts';

/** The control machine itself (`ansible_connection: local`). */
export function localConnection(name: string, become: boolean, o: { becomeUser?: string | undefined; becomePassword?: string | undefined } = {}): Connection {
  const user = process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'other');
  const becomeUser = o.becomeUser ?? 'root';
  let roundTrips = 0;
  return {
    host: name,
    get roundTrips() {
      return roundTrips;
    },
    async run(script: string): Promise<ExecResult> {
      roundTrips++;
      const plan = becomePlan({ user, become, becomeUser, withPassword: o.becomePassword !== undefined });
      verbose(3, name, () => `exec locally: /bin/sh -c ${plan.command}`);
      const r = await drive(
        (ev) => {
          const child = spawn('/bin/sh', ['-c', plan.command], { stdio: ['pipe', 'pipe', 'pipe'] });
          child.stdout.on('data', ev.stdout);
          child.stderr.on('data', ev.stderr);
          child.stdin.on('error', () => {});
          child.on('error', (e) => ev.stderr(Buffer.from(`${e.message}\n`)));
          child.on('close', (code, signal) => ev.close(code ?? (signal ? null : 1), signal));
          return { write: (d) => child.stdin.write(d), end: () => child.stdin.end(), kill: () => child.kill() };
        },
        script,
        plan,
        { password: o.becomePassword, timeoutMs: 30_000 },
      );
      if (plan.becomeUser) verbose(3, name, () => becomeOutcome(r, plan.becomeUser!, user));
      if (r.becomeFailed) throw new BecomeError(becomeFailureMessage(r, { user, becomeUser, hadPassword: o.becomePassword !== undefined, timeoutMs: 30_000 }));
      return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
    async close() {},
  };
}
