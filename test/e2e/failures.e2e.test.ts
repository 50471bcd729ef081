// Failures injected while mxplay applies to three real lab hosts: a host that is down, the SSH
// connection killed from the host's side in the middle of an apply, a host's network link going
// down in the middle of an apply (noticed by the SSH keep-alives within seconds, while another
// host silent in a long step is not mistaken for dead), a package that cannot be installed, a
// config its service rejects. Each time: the other hosts converge, the failed host is reported
// with its cause (exit 1), no file is left half-written, the handlers its applied changes
// notified stay pending on it, and the next run converges it fully.
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { run as runLocal } from '../lab/exec.ts';
import { flushNeighbour } from '../lab/network.ts';
import { pollUntil } from '../lab/wait.ts';
import { mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHECK = 'lighttpd -tt -f /etc/lighttpd/lighttpd.conf';
const REV_CONF = '/etc/lighttpd/conf-enabled/98-saf-rev.conf';
const TAG_CONF = '/etc/lighttpd/conf-enabled/99-saf-tag.conf';
const PAGE = '/var/www/html/index.html';

// A role of the user's own (roles/ next to the playbook), cheap to converge: a package, two
// config sets each checked by lighttpd, each notifying its own handler (so that a test can tell
// which set's notification was kept), a page, optional extra packages.
// Test hook: when /run/saf-gate is a FIFO, the check of the tag set first waits on it, so the test
// can act while the new file is in place but not yet checked (a slow config check, frozen).
// web_slow_s: a step that says nothing for that long (a long package install, say), once per rev.
const ROLE = `import { defineRole, z, apt, file, service, command } from 'mxplay';
const CHECK = ${JSON.stringify(CHECK)};
const GATED = 'if [ -p /run/saf-gate ]; then : > /run/saf-held; read _ < /run/saf-gate; fi; ' + CHECK;
const UP = { http: 'http://127.0.0.1/' };
export default defineRole({
  name: 'web',
  vars: z.object({
    web_rev: z.string(),
    web_server_tag: z.string().default('saf'),
    web_extra_packages: z.array(z.string()).default([]),
    web_slow_s: z.number().default(0),
  }),
  tasks: (v) => [
    apt({ names: ['lighttpd'] }),
    file({ path: '${REV_CONF}', content: 'server.modules += ("mod_setenv")\\nsetenv.add-response-header = ("X-Saf-Rev" => "' + v.web_rev + '")\\n', validate: CHECK, notify: 'reload lighttpd' }),
    file({ path: '${PAGE}', content: 'page ' + v.web_rev + '\\n' }),
    v.web_slow_s > 0 && command({ name: 'slow step', cmd: 'sleep ' + v.web_slow_s + ' && touch /run/saf-slow-' + v.web_rev, creates: '/run/saf-slow-' + v.web_rev }),
    file({ path: '${TAG_CONF}', content: 'server.tag = "' + v.web_server_tag + ' ' + v.web_rev + '"\\n', validate: GATED, notify: 'restart lighttpd' }),
    v.web_extra_packages.length > 0 && apt({ names: v.web_extra_packages }),
    service({ name: 'lighttpd', enabled: true, state: 'started', ready: UP }),
  ],
  handlers: { 'reload lighttpd': service.reload('lighttpd'), 'restart lighttpd': service.restart('lighttpd', UP) },
});
`;

const HOSTS = ['saf1', 'saf2', 'saf3'] as const;
type Host = (typeof HOSTS)[number];

describe('failures injected during an apply on three lab hosts', () => {
  let lab: LabFixture;
  let project: string;
  const hostVars = (h: Host) => join(project, 'inventory', 'lab', 'host_vars', `${h}.yml`);
  // VITEST is unset as for a user: the CLI then compiles the user's TypeScript role itself.
  const run = (rev: string, ...args: string[]) =>
    mxplay(['run', 'site.yml', '-i', 'lab', '--yes', '-e', `web_rev=${rev}`, ...args], { cwd: project, env: { VITEST: '' } });

  /**
   * What a browser gets from the host: the page, and the two headers only a reload brings in. On a
   * connection of its own, closed after the answer: an idle keep-alive connection (fetch keeps them
   * a few seconds) holds up lighttpd's graceful reload, and a restart right after it then waits for
   * systemd's stop timeout, 90 s.
   */
  const served = (h: Host) =>
    new Promise<{ page: string; tag: string | null; rev: string | null }>((resolve, reject) => {
      const req = httpGet({ host: lab.host(h).ip, path: '/', agent: false, headers: { connection: 'close' }, timeout: 10_000 }, (res) => {
        let page = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (page += d));
        res.on('end', () => resolve({ page, tag: (res.headers.server as string | undefined) ?? null, rev: (res.headers['x-saf-rev'] as string | undefined) ?? null }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${h} within 10 s`)));
      req.on('error', reject);
    });
  /** After a run that reloaded it: lighttpd reloads on a signal, so give it a moment to take the new config. */
  const servesRev = async (h: Host, rev: string) => {
    const want = { page: `page ${rev}\n`, tag: `saf ${rev}`, rev };
    let seen: unknown;
    await pollUntil(async () => ((seen = await served(h)), JSON.stringify(seen) === JSON.stringify(want)), {
      what: `${h} to serve ${JSON.stringify(want)}`,
      timeoutMs: 15_000,
      explain: () => `last seen: ${JSON.stringify(seen)}`,
    });
  };

  /** The managed files as they are on the host, any temp file left next to them, the pending handlers. */
  const onHost = async (h: Host) => {
    const b64 = (cmd: string) => `{ ${cmd}; } 2>/dev/null | base64 -w0; echo`;
    const r = await lab.ssh(h, [...[REV_CONF, PAGE, TAG_CONF].map((f) => b64(`cat ${f}`)), b64("find /etc/lighttpd /var/www/html -name '*.mxp-tmp'"), b64('cat /var/lib/mxplay/pending-handlers')].join('\n'));
    const [rev, page, tag, tmp, pending] = r.stdout.split('\n').map((l) => Buffer.from(l, 'base64').toString());
    return { rev, page, tag, tmp, pending };
  };
  const revConf = (rev: string) => `server.modules += ("mod_setenv")\nsetenv.add-response-header = ("X-Saf-Rev" => "${rev}")\n`;

  /** A host's line of the recap: ok=.. changed=.. failed=.. unreachable=.. skipped=.. */
  const recap = (r: CliResult, h: Host) => {
    const m = new RegExp(`^ {2}${h}\\s+ok=(\\d+)\\s+changed=(\\d+)\\s+failed=(\\d)\\s+unreachable=(\\d)\\s+skipped=(\\d)`, 'm').exec(r.stdout);
    if (!m) throw new Error(`no recap line for ${h} in:\n${r.stdout}\n${r.stderr}`);
    const [changed, failed, unreachable] = [Number(m[2]), Number(m[3]), Number(m[4])];
    return { changed, failed, unreachable };
  };
  /** The others converged in the same run that failed on `failed`. */
  const othersConverged = async (r: CliResult, failed: Host, rev: string) => {
    for (const h of HOSTS.filter((x) => x !== failed)) {
      expect(recap(r, h)).toMatchObject({ failed: 0, unreachable: 0 });
      expect(recap(r, h).changed).toBeGreaterThanOrEqual(3);
      await servesRev(h, rev);
      expect(await onHost(h)).toMatchObject({ tmp: '', pending: '' });
    }
  };
  /** The next run converges the host that failed: exit 0, its pending handlers run, it serves `rev`. */
  const convergesAgain = async (h: Host, rev: string, handlers: string[]) => {
    const again = await run(rev);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const name of handlers) expect(again.stderr).toContain(`[${h}] handler ${name}`);
    await servesRev(h, rev);
    return again;
  };
  /** A further run has nothing left to do anywhere. */
  const nothingLeft = async (rev: string) => {
    const r = await run(rev, '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(r.json!.results.map((x) => [x.host, x.changed])).toEqual(HOSTS.map((h) => [h, 0]));
  };

  beforeAll(async () => {
    lab = await labHosts([...HOSTS]);
    project = await projectDir('failures');
    await lab.writeInventory(join(project, 'inventory', 'lab'), { mxplay_connect_timeout: 5 }, { web: [...HOSTS] });
    await mkdir(join(project, 'inventory', 'lab', 'host_vars'));
    await mkdir(join(project, 'roles', 'web'), { recursive: true });
    await writeFile(join(project, 'roles', 'web', 'role.ts'), ROLE);
    await writeFile(join(project, 'site.yml'), '- hosts: web\n  roles: [web]\n');
    // A user's project: an ES module package with mxplay installed (as `npm install <folder>` links it).
    await writeFile(join(project, 'package.json'), '{ "type": "module", "private": true }\n');
    await mkdir(join(project, 'node_modules'));
    await symlink(PACKAGE_ROOT, join(project, 'node_modules', 'mxplay'));
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('a host that is down is reported unreachable while the others converge; once back, a re-run converges it', async () => {
    const veth = 'vb-saf3'; // the host's end of its link to the lab bridge
    await runLocal(['ip', 'link', 'set', veth, 'down']);
    let r: CliResult;
    try {
      r = await run('r1');
    } finally {
      await runLocal(['ip', 'link', 'set', veth, 'up']);
      await flushNeighbour(lab.host('saf3').ip);
    }
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(recap(r, 'saf3')).toEqual({ changed: 0, failed: 0, unreachable: 1 });
    expect(r.stdout).toMatch(new RegExp(`^saf3 unreachable:\\n {2}cannot connect to ${lab.host('saf3').ip.replaceAll('.', '\\.')}:22: `, 'm'));
    await othersConverged(r, 'saf3', 'r1');

    // Back on the network: nothing of the run reached it.
    await pollUntil(async () => (await lab.ssh('saf3', 'true', { connectTimeoutS: 2 })).code === 0, { what: 'saf3 back on the network', timeoutMs: 60_000, intervalMs: 500 });
    expect((await lab.ssh('saf3', 'test ! -e /var/lib/mxplay && ! test -e /etc/lighttpd && echo untouched')).stdout).toBe('untouched\n');

    const again = await convergesAgain('saf3', 'r1', ['reload lighttpd', 'restart lighttpd']);
    expect(recap(again, 'saf3').changed).toBeGreaterThanOrEqual(4);
    await nothingLeft('r1');
  });

  it('an SSH connection killed mid-apply: the host finishes what it was sent, keeps its handlers pending, and a re-run converges it', async () => {
    await lab.ssh('saf1', 'mkfifo /run/saf-gate');
    const running = run('r2');
    // saf1 has swapped in its new tag file and waits in the check: now its connection dies.
    await pollUntil(async () => (await lab.ssh('saf1', 'test -e /run/saf-held')).code === 0, { what: 'saf1 to reach the gated check', timeoutMs: 120_000, intervalMs: 200 });
    const killed = await lab.ssh('saf1', [
      // the sshd process serving mxplay's apply shell (our own session runs a different command)
      'for p in $(pgrep -x -f "/bin/sh -s"); do pp=$(ps -o ppid= -p "$p" | tr -d " ");',
      '  case "$(ps -o args= -p "$pp")" in sshd*) kill -KILL "$pp" && echo "$pp";; esac; done',
    ].join('\n'));
    expect(killed.stdout.trim().split('\n'), killed.stderr).toHaveLength(1);
    const r = await running;
    // The cut-off apply still holds saf1: a new run neither plans from its half-done state nor applies beside it.
    const meanwhile = await run('r2', '--limit', 'saf1');
    expect(meanwhile.code, meanwhile.stdout + meanwhile.stderr).toBe(1);
    expect(meanwhile.stdout).toMatch(/^saf1 failed:\n {2}another mxplay apply is still running on this host \(pid \d+ since [\dT:Z-]+\)/m);
    await lab.ssh('saf1', 'echo go > /run/saf-gate; rm -f /run/saf-gate /run/saf-held');

    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(recap(r, 'saf1').unreachable).toBe(1);
    expect(r.stdout).toMatch(/^saf1 unreachable:\n {2}connection to saf1 lost.* while applying\. .*run again to converge/m);
    await othersConverged(r, 'saf1', 'r2');

    // The apply shell, cut off from mxplay, still finishes the script it was sent.
    await pollUntil(async () => (await lab.ssh('saf1', 'pgrep -x -f "/bin/sh -s"')).code === 1, { what: "saf1's orphaned apply to end", timeoutMs: 60_000 });
    // The tag set was checked after the connection died, and its restart recorded all the same.
    expect(await onHost('saf1')).toEqual({ rev: revConf('r2'), page: 'page r2\n', tag: 'server.tag = "saf r2"\n', tmp: '', pending: 'reload lighttpd\nrestart lighttpd\n' });
    // Neither handler ran: lighttpd still serves the old config.
    expect(await served('saf1')).toEqual({ page: 'page r2\n', tag: 'saf r1', rev: 'r1' });

    const again = await convergesAgain('saf1', 'r2', ['restart lighttpd']);
    expect(again.stdout).toContain('! handler reload lighttpd  pending from an earlier run');
    expect(again.stdout).toContain('! handler restart lighttpd  pending from an earlier run');
    expect((await onHost('saf1')).pending).toBe('');
    await nothingLeft('r2');
  });

  it('a package that cannot be installed fails its host after the config changes before it, which stay notified', async () => {
    await writeFile(hostVars('saf2'), 'web_extra_packages: [mxplay-no-such-package]\n');
    const r = await run('r3');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(recap(r, 'saf2')).toMatchObject({ failed: 1, unreachable: 0 });
    expect(r.stdout).toMatch(/^saf2 failed:\n {2}apt mxplay-no-such-package: failed with exit 100:[\s\S]*Unable to locate package mxplay-no-such-package/m);
    await othersConverged(r, 'saf2', 'r3');

    expect(await onHost('saf2')).toEqual({ rev: revConf('r3'), page: 'page r3\n', tag: 'server.tag = "saf r3"\n', tmp: '', pending: 'reload lighttpd\nrestart lighttpd\n' });
    expect(await served('saf2')).toEqual({ page: 'page r3\n', tag: 'saf r2', rev: 'r2' });

    await rm(hostVars('saf2'));
    await convergesAgain('saf2', 'r3', ['reload lighttpd', 'restart lighttpd']);
    await nothingLeft('r3');
  });

  it('a config lighttpd rejects on one host: its set is restored, the earlier set stays notified, the others converge', async () => {
    await writeFile(hostVars('saf3'), 'web_server_tag: \'saf" broken\'\n');
    const r = await run('r4');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(recap(r, 'saf3')).toMatchObject({ failed: 1, unreachable: 0 });
    expect(r.stdout).toMatch(/^saf3 failed:\n {2}validation failed \(.*lighttpd -tt -f \/etc\/lighttpd\/lighttpd\.conf\), exit \d+:\n[\s\S]*99-saf-tag\.conf[\s\S]*The previous files were restored; nothing was restarted/m);
    await othersConverged(r, 'saf3', 'r4');

    // The rev set (checked before the tag set) is in and its reload pending; the rejected tag file
    // is the old one, whole, and its restart was never recorded.
    expect(await onHost('saf3')).toEqual({ rev: revConf('r4'), page: 'page r4\n', tag: 'server.tag = "saf r3"\n', tmp: '', pending: 'reload lighttpd\n' });
    expect(await served('saf3')).toEqual({ page: 'page r4\n', tag: 'saf r3', rev: 'r3' });

    await rm(hostVars('saf3'));
    await convergesAgain('saf3', 'r4', ['reload lighttpd', 'restart lighttpd']);
    await nothingLeft('r4');
  });
  it("a host whose link goes down mid-apply is unreachable within seconds (keep-alives); one silent in a 15 s step converges", async () => {
    // Defaults only (no mxplay_keepalive_*, no ServerAlive* in any ssh_config): every 3 s, 3 unanswered.
    const cut: Host = 'saf2';
    const slow: Host = 'saf1';
    const veth = `vb-${cut}`;
    const log = join(project, 'keepalive.log');
    // Longer than a dead connection takes to be noticed (9-12 s): silence alone must not count as dead.
    await writeFile(hostVars(slow), 'web_slow_s: 15\n');
    await lab.ssh(cut, 'mkfifo /run/saf-gate');
    const t0 = Date.now();
    const running = run('r5', '--log-file', log);
    let down = 0;
    let seen = 0;
    try {
      // saf2 waits in its gated check, inside its apply: now its network goes, silently (no FIN, no RST).
      await pollUntil(async () => (await lab.ssh(cut, 'test -e /run/saf-held')).code === 0, { what: `${cut} to reach the gated check`, timeoutMs: 120_000, intervalMs: 200 });
      await runLocal(['ip', 'link', 'set', veth, 'down']);
      down = Date.now();
      // When mxplay gave up on it (its -v line, timestamped in the log file): the link can come back.
      const line = await pollUntil(async () => /^(\S+) \[saf2\] saf2: no answer to .*: connection dropped$/m.exec(await readFile(log, 'utf8').catch(() => ''))?.[1], {
        what: `mxplay to give up on ${cut}`,
        timeoutMs: 90_000,
        intervalMs: 200,
      });
      seen = Date.parse(line);
    } finally {
      await runLocal(['ip', 'link', 'set', veth, 'up']);
      await flushNeighbour(lab.host(cut).ip);
    }
    const r = await running;
    const detectedS = (seen - down) / 1000;
    console.log(`keep-alive: ${cut} reported unreachable ${detectedS.toFixed(1)} s after its link went down; the run took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // 9-12 s by the defaults; the bound leaves room for a busy machine, it is no timing test.
    expect(detectedS).toBeGreaterThan(5);
    expect(detectedS).toBeLessThan(30);

    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(recap(r, cut)).toEqual({ changed: 0, failed: 0, unreachable: 1 });
    expect(r.stdout).toMatch(/^saf2 unreachable:\n {2}connection to saf2 lost: no answer to 3 keep-alives in 9 s while applying\. .*run again to converge/m);
    // Silent for 15 s in its step, answering keep-alives all along: converged in the same run.
    expect(recap(r, slow)).toMatchObject({ failed: 0, unreachable: 0 });
    expect(recap(r, slow).changed).toBeGreaterThanOrEqual(4);
    expect((await lab.ssh(slow, 'test -e /run/saf-slow-r5 && echo slept')).stdout).toBe('slept\n');
    expect(await readFile(log, 'utf8')).not.toMatch(/\[saf[13]\] .*no answer to/);
    await othersConverged(r, cut, 'r5');

    // Back on the network, saf2 finishes what it was sent, as after a killed connection.
    await pollUntil(async () => (await lab.ssh(cut, 'true', { connectTimeoutS: 2 })).code === 0, { what: `${cut} back on the network`, timeoutMs: 60_000, intervalMs: 500 });
    await lab.ssh(cut, 'echo go > /run/saf-gate; rm -f /run/saf-gate /run/saf-held');
    await pollUntil(async () => (await lab.ssh(cut, 'pgrep -x -f "/bin/sh -s"')).code === 1, { what: `${cut}'s orphaned apply to end`, timeoutMs: 60_000 });
    expect(await onHost(cut)).toEqual({ rev: revConf('r5'), page: 'page r5\n', tag: 'server.tag = "saf r5"\n', tmp: '', pending: 'reload lighttpd\nrestart lighttpd\n' });

    await rm(hostVars(slow));
    await convergesAgain(cut, 'r5', ['restart lighttpd']);
  });
});
