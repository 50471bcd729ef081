// The redis role on one fresh lab host, converged by the real CLI: Redis listens on the host's lab
// address too, and from this machine (a raw RESP client over node:net) it answers PING only after
// AUTH with the password, a hostile one given in the inventory (a quote, a backslash, a line break,
// a space and a #: written into redis.conf through redisString, read back by Redis exactly).
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const PASSWORD = 'e2e-Redis "quoted" back\\slash\nnext line # not a comment';
const MASTER = 'e2e-master-secret-0123456789';

/** A RESP array of bulk strings (lengths in bytes). */
const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Sends the commands on one connection and returns the reply lines, once `replies` have come. */
function redis(host: string, port: number, commands: string[][], replies = commands.length): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no ${replies} replies from ${host}:${port} within 10 s; got ${JSON.stringify(got)}`)); }, 10_000);
    sock.on('connect', () => sock.write(commands.map((c) => resp(...c)).join('')));
    sock.on('data', (d) => {
      got += d.toString('utf8');
      const lines = got.split('\r\n').filter(Boolean);
      if (lines.length >= replies) {
        clearTimeout(timer);
        sock.end();
        resolve(lines);
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

describe('redis role on one fresh host', () => {
  let lab: LabFixture;
  let project: string;
  let ip: string;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });

  beforeAll(async () => {
    lab = await labHosts(['redis1']);
    ip = lab.host('redis1').ip;
    project = await projectDir('redis');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: MASTER,
      redis_bind_addresses: ['127.0.0.1', ip],
      redis_password: PASSWORD,
    });
    await writeFile(join(project, 'site.yml'), '- hosts: all\n  roles: [redis]\n');
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('--check on the bare host plans the package, the config (unresolved until the package makes its user) and the drop-in', async () => {
    const r = await run('--check', '--detailed-exitcode');
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(r.stdout).toContain('+ apt redis-server');
    expect(r.stdout).toMatch(/\? file \/etc\/redis\/mxplay\.conf/);
    expect(r.stdout).toContain('+ file /etc/systemd/system/redis-server.service.d/mxplay.conf');
    expect(r.stdout).not.toContain('e2e-Redis');
  });

  it('converges: our config beside the package one, Redis started by the drop-in on it', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'redis1')).toBeGreaterThanOrEqual(4);
    expect(r.json!.results[0]!.handlers).toEqual(['restart redis']);
    expect(r.stdout + r.stderr).not.toContain('e2e-Redis');

    const state = await lab.ssh('redis1', [
      "stat -c '%a %U %G' /etc/redis/mxplay.conf /etc/redis/redis.conf",
      'head -1 /etc/redis/mxplay.conf',
      'systemctl is-active redis-server; systemctl is-enabled redis-server',
      "systemctl show -p ExecStart redis-server | grep -o 'argv\\[\\]=[^;]*'",
      "dpkg-query -W -f '${Version}\\n' redis-server",
    ].join('; '));
    const lines = state.stdout.trim().split('\n');
    console.log(`redis-server ${lines.at(-1)}`);
    expect(lines.slice(0, -1)).toEqual([
      '640 redis redis', '640 redis redis',
      'include /etc/redis/redis.conf',
      'active', 'enabled',
      'argv[]=/usr/bin/redis-server /etc/redis/mxplay.conf --supervised systemd --daemonize no ',
    ]);
  });

  it("from this machine: PING needs AUTH; the inventory's password works, a wrong one does not", async () => {
    expect(await redis(ip, 6379, [['PING']])).toEqual([expect.stringMatching(/^-NOAUTH/)]);
    expect(await redis(ip, 6379, [['AUTH', PASSWORD], ['PING']])).toEqual(['+OK', '+PONG']);
    const wrong = await redis(ip, 6379, [['AUTH', `${PASSWORD}x`], ['PING']]);
    expect(wrong).toEqual([expect.stringMatching(/^-WRONGPASS/), expect.stringMatching(/^-NOAUTH/)]);
    // The parts of the password alone, as a bare value would have split it, are refused too.
    const part = await redis(ip, 6379, [['AUTH', 'e2e-Redis'], ['PING']]);
    expect(part[0]).toMatch(/^-WRONGPASS/);
    // On the host, over loopback, as workers beside the main process would connect.
    const b64 = Buffer.from(PASSWORD).toString('base64');
    const local = await lab.ssh('redis1', `REDISCLI_AUTH="$(echo ${b64} | base64 -d)" redis-cli -h 127.0.0.1 -p 6379 ping`);
    expect(local.stdout.trim(), local.stderr).toBe('PONG');
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'redis1')).toBe(0);
  });
});
