import { spawn } from 'node:child_process';
import { shellCommand, type Connection, type ExecResult } from './connection.ts';

/** The control machine itself (`ansible_connection: local`). */
export function localConnection(name: string, become: boolean): Connection {
  const user = process.getuid?.() === 0 ? 'root' : 'other';
  const [cmd, ...args] = shellCommand(user, become).split(' ');
  let roundTrips = 0;
  return {
    host: name,
    get roundTrips() {
      return roundTrips;
    },
    run(script: string): Promise<ExecResult> {
      roundTrips++;
      return new Promise((resolve, reject) => {
        const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', reject);
        child.on('close', (code) =>
          resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
        );
        child.stdin.end(script);
      });
    },
    async close() {},
  };
}
