// Engine semantics a multi-play run relies on, over real shells (/bin/sh is dash, as on the hosts):
// creates/unless evaluated again just before their step; a handler notified in one play and
// defined by a later one; shell snippets checked with `sh -n` before connecting, and a failing
// probe reported with the shell's own words; the proxy roles' upstream timeout.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWork, notifyErrors } from '../../../src/engine/build.ts';
import { applyScript, parseApplyOutput, parseProbeOutput, probeScript, STATE_DIR, type ApplyStep } from '../../../src/engine/scripts.ts';
import { embedded, passedFolder, passedName, shellSyntaxError } from '../../../src/engine/shell-check.ts';
import type { HostWork, PlayWork } from '../../../src/engine/work.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook, type Play } from '../../../src/playbook/playbook.ts';
import { command, planCommand } from '../../../src/resources/command.ts';
import { file } from '../../../src/resources/file.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { renderRecap } from '../../../src/ui/recap.ts';
import type { Connection } from '../../../src/transport/connection.ts';
import { sh, tempDir, writeTree } from '../helpers.ts';
import { playWork, runHost } from './run-host.ts';

describe('creates / unless are evaluated again just before the command runs', () => {
  it('the planner hands the guard to the apply (and says so in the summary); facts-based doneWhen has none', () => {
    const c = planCommand({ cmd: 'make-ca', name: 'ca', creates: '/etc/ca.crt' }, { done: false }) as Change;
    expect(c.guard).toBe('[ -e /etc/ca.crt ]');
    expect(c.summary).toBe('run ca (creates re-checked at run time)');
    const u = planCommand({ cmd: 'x', unless: 'test -s /a', creates: '/b' }, { done: false }) as Change;
    expect(u.guard).toBe("[ -e /b ] || ( test -s /a\n) >/dev/null 2>&1");
    expect(u.summary).toBe('run x (creates, unless re-checked at run time)');
    expect(planCommand({ cmd: 'x' }, { done: false })).toEqual({ action: '+', summary: 'run x', script: 'x' });
    expect(planCommand({ cmd: 'x', doneWhen: { facts: {}, read: () => false } }, { done: false })).not.toHaveProperty('guard');
  });

  it('apply script: a step whose guard an earlier step made true is skipped, runs nothing and notifies nothing', () => {
    const dir = tempDir();
    const state = tempDir('mxp-state-');
    const ca = join(dir, 'ca.crt');
    const steps: ApplyStep[] = [
      { kind: 'change', id: 0, script: `echo from-play-1 > ${ca}`, notify: [] },
      { kind: 'change', id: 1, script: `echo overwritten > ${ca}`, notify: ['restart synapse'], guard: `[ -e ${ca} ]` },
      { kind: 'change', id: 2, script: `echo ran > ${join(dir, 'other')}`, notify: ['reload nginx'], guard: `[ -e ${join(dir, 'nope')} ]` },
    ];
    const r = sh(applyScript(steps).replaceAll(STATE_DIR, state));
    const out = parseApplyOutput(r.stdout);
    expect(out).toMatchObject({ done: true, ok: new Set([0, 2]), skipped: new Set([1]) });
    expect(readFileSync(ca, 'utf8')).toBe('from-play-1\n');
    expect(readFileSync(join(dir, 'other'), 'utf8')).toBe('ran\n');
    expect(readFileSync(join(state, 'pending-handlers'), 'utf8')).toBe('reload nginx\n');
  });

  it('apply script: a validation set whose guarded members were all skipped notifies nothing', () => {
    const dir = tempDir();
    const state = tempDir('mxp-state-');
    writeFileSync(join(dir, 'done'), '');
    const steps: ApplyStep[] = [
      { kind: 'change', id: 0, script: 'false', notify: ['reload x'], group: 0, guard: `[ -e ${join(dir, 'done')} ]` },
      { kind: 'validate', group: 0, command: 'true', notify: ['reload x'] },
    ];
    const out = parseApplyOutput(sh(applyScript(steps).replaceAll(STATE_DIR, state)).stdout);
    expect(out).toMatchObject({ done: true, skipped: new Set([0]), valid: new Set([0]) });
    expect(existsSync(join(state, 'pending-handlers'))).toBe(false);
  });

  it('two plays: a file written by the first is the second play\'s `creates`: the command is planned, then skipped and counted ok', async () => {
    const dir = tempDir();
    const ca = join(dir, 'ca.crt');
    const { plan, result, events } = await runHost([
      playWork(0, [file({ path: ca, content: 'our CA\n' })]),
      playWork(1, [command({ name: 'make a CA', creates: ca, cmd: `echo another CA > ${ca}`, notify: 'restart synapse' })], {
        'restart synapse': command({ name: 'restart', cmd: `echo restarted >> ${join(dir, 'log')}` }),
      }),
    ]);
    expect(plan.items.map((p) => p.status)).toEqual(['change', 'change']);
    expect(plan.items[1]!.change!.summary).toBe('run make a CA (creates re-checked at run time)');
    expect(readFileSync(ca, 'utf8')).toBe('our CA\n');
    expect(events).toEqual([`changed ${ca}`, 'skipped make a CA']);
    expect(result).toMatchObject({ status: 'changed', changed: 1, ok: 1, skippedAtRun: ['command make a CA'], handlers: [] });
    expect(existsSync(join(dir, 'log'))).toBe(false);
  });
});

describe('the recap is honest about a command skipped at run time', () => {
  it('counted ok, not changed, and named', () => {
    const text = renderRecap(
      [{ host: 'h1', status: 'changed', ok: 1, changed: 2, skippedAtRun: ['command make a CA'], handlers: [], roundTrips: 2, seconds: 1 }],
      1,
      new SecretRegistry(),
    );
    expect(text).toMatch(/h1 +ok=1 {2}changed=2 /);
    expect(text).toContain('h1: planned but not run, their creates/unless holding by the time they came to run (counted ok): command make a CA');
  });
});

describe('a handler notified in one play and defined by a later play of the same host', () => {
  it('fires once, at the end of the play that defines it, after that play\'s own tasks', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const step = (name: string) => command({ name, cmd: `echo ${name} >> ${log}` });
    const { result, events } = await runHost([
      playWork(0, [command({ name: 'trust CA', cmd: `echo trust CA >> ${log}`, notify: 'restart synapse' }), step('play 1 end')]),
      playWork(1, [step('synapse config')], { 'restart synapse': command({ name: 'restart', cmd: `echo restart synapse >> ${log}` }) }),
      playWork(2, [step('play 3')], { 'restart synapse': command({ name: 'restart', cmd: `echo restart again >> ${log}` }) }),
    ]);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['trust CA', 'play 1 end', 'synapse config', 'restart synapse', 'play 3']);
    expect(events.filter((e) => e.startsWith('handler'))).toEqual(['handler restart synapse']);
    expect(result.handlers).toEqual(['restart synapse']);
    expect(result.message).toBeUndefined();
  });

  const host = (plays: PlayWork[]): HostWork => ({
    host: { name: 'h1', groups: ['all'], vars: {}, origins: {} },
    params: { name: 'h1', connection: 'local', address: 'h1', port: 22, user: 'root', become: false, knownHostsFile: '', hostKeyChecking: 'strict', connectTimeoutMs: 1000 },
    plays,
  });
  const notifying = command({ name: 'trust CA', cmd: 'true', notify: 'restart synapse' });
  const handler = { 'restart synapse': command({ cmd: 'true' }) };

  it.each([
    { why: 'defined by the same play', plays: () => [playWork(0, [notifying], handler)], errors: [] },
    { why: 'defined by a later play', plays: () => [playWork(0, [notifying]), playWork(1, [], handler)], errors: [] },
    {
      why: 'defined only by an earlier play: refused, saying why',
      plays: () => [playWork(0, [], handler), playWork(1, [notifying])],
      errors: [/site\.yml, host h1: command trust CA notifies 'restart synapse', which only an earlier play \("play 1"\) defines: handlers run at the end of the play that defines them, so it would never run/],
    },
    { why: 'defined by no play: refused', plays: () => [playWork(0, [notifying])], errors: [/notifies 'restart synapse', which no role or play defines/] },
  ])('planning: $why', ({ plays, errors }) => {
    const got = notifyErrors(host(plays()), 'site.yml').map((e) => e.toString());
    expect(got).toHaveLength(errors.length);
    errors.forEach((re, i) => expect(got[i]).toMatch(re));
  });
});

describe('shell snippets are checked with sh -n before connecting', () => {
  it.each([
    ['a valid command', 'echo "a b" | tr a b', undefined],
    ['a here-document that ends', "cat <<'EOF'\nx\nEOF", undefined],
    ['an unterminated quote', 'test -e "/etc/x', /^line 1: Syntax error: Unterminated quoted string$/],
    ['a here-document left open (it would swallow the rest of the script)', "cat <<'EOF'\nx", /Syntax error: end of file unexpected/],
    ['an if without fi', 'if true; then\n  echo', /^line \d: Syntax error: end of file unexpected \(expecting "fi"\)$/],
    ['a stray closing parenthesis', 'true )', /Syntax error: "\)" unexpected/],
  ])('%s', async (_n, text, want) => {
    const got = await shellSyntaxError(text);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });

  async function build(playbook: string) {
    const cwd = writeTree(tempDir(), {
      'site.yml': playbook,
      'inventory/hosts.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local }\n    h2: { ansible_connection: local }\n',
    });
    try {
      return { works: await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() }) };
    } catch (e) {
      if (e instanceof UserErrors) return { errors: e.errors.map((x) => x.toString()) };
      throw e;
    }
  }

  it('an unless with an unterminated quote is an input error naming file, line, hosts and task; nothing connects', async () => {
    const r = await build(`- hosts: all
  tasks:
    - command: { name: fine, cmd: "true" }
    - command:
        name: trust our CA
        cmd: update-ca-certificates
        unless: 'test -e "/usr/local/share/ca-certificates/lab.crt'
    - file: { path: /etc/x, content: "x", validate: "nginx -t 'oops" }
`);
    expect(r.errors).toEqual([
      expect.stringMatching(/site\.yml:4, host h1, h2: command trust our CA: its unless is not valid shell \(\/bin\/sh -n here, before connecting\): line 1: Syntax error: Unterminated quoted string$/),
      expect.stringMatching(/site\.yml:8, host h1, h2: file \/etc\/x: its validate is not valid shell .*Unterminated quoted string$/),
    ]);
  });

  it('inline handlers are checked too; valid snippets build', async () => {
    const r = await build(`- hosts: h1
  tasks:
    - command: { cmd: "true", notify: restart it, creates: "/a b" }
  handlers:
    - name: restart it
      command: { cmd: "systemctl restart 'x" }
`);
    expect(r.errors).toEqual([expect.stringMatching(/site\.yml:5, host h1: handler restart it \(command .*\): its cmd is not valid shell/)]);
    const ok = await build('- hosts: all\n  tasks:\n    - command: { cmd: "echo \'a\' | cat", unless: "test -e /x" }\n');
    expect(ok.errors).toBeUndefined();
  });
});

describe('a probe that fails says so, with the shell\'s own message, for its resource', () => {
  const res = (id: string, probe: string): Resource => ({ type: 'x', id, probe, plan: () => null, notify: [], tags: [] });
  const probe = (resources: Resource[]) => {
    const r = sh(probeScript(resources).replaceAll(STATE_DIR, tempDir('mxp-state-')));
    return parseProbeOutput(r.stdout, resources, r.stderr);
  };

  it('a probe that exits non-zero: its exit status and stderr; the probes after it are unaffected', () => {
    const out = probe([res('a', 'ls /nonexistent-mxp-dir'), res('b', 'echo \'{"b":1}\''), res('c', 'echo x >&2; exit 4'), res('d', 'echo warning >&2; echo \'{"d":1}\'')]);
    expect(out.errors[0]).toMatch(/^the probe failed \(exit 2\): ls: cannot access '\/nonexistent-mxp-dir': No such file or directory$/);
    expect(out.states[1]).toEqual({ b: 1 });
    expect(out.errors[2]).toBe('the probe failed (exit 4): x');
    expect(out).toMatchObject({ states: [undefined, { b: 1 }, undefined, { d: 1 }] });
    expect(out.errors[3]).toBeUndefined();
  });

  it('a probe that breaks the script itself: it and every later one say the shell\'s message, not "printed nothing"', () => {
    const out = probe([res('a', 'echo \'{"a":1}\''), res('broken', 'test -e "/x'), res('later', 'echo \'{"l":1}\'')]);
    expect(out.states[0]).toEqual({ a: 1 });
    expect(out.errors[1]).toMatch(/^the probe did not run to its end: .*Syntax error: Unterminated quoted string$/);
    expect(out.errors[2]).toBe(out.errors[1]);
  });
});

describe('proxy roles: the upstream timeout', () => {
  const PROXY = { synapse_server_name: 'example.com', synapse_public_baseurl: 'https://matrix.example.com/', proxy_tls_self_signed: true };
  async function rendered(role: string, vars: Record<string, unknown>, path: string): Promise<string> {
    const cwd = writeTree(tempDir(), {
      'site.yml': `- hosts: all\n  roles: [${role}]\n`,
      'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify({ ...PROXY, ...vars })}\n`,
    });
    const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
    const r = works[0]!.plays[0]!.items.map((i) => i.resource).find((x) => x.id === path)!;
    return (r.plan({ kind: 'none' } as never) as { diff: { after: string } }).diff.after;
  }

  it.each([
    ['nginx', {}, '/etc/nginx/conf.d/mxplay-matrix.conf', ['proxy_read_timeout 330s;', 'proxy_send_timeout 330s;']],
    ['nginx', { proxy_upstream_timeout: 5, proxy_federation_port: 8448 }, '/etc/nginx/conf.d/mxplay-matrix.conf', ['proxy_read_timeout 5s;', 'proxy_send_timeout 5s;']],
    ['apache', {}, '/etc/apache2/sites-enabled/mxplay-matrix.conf', ['ProxyTimeout 330']],
    ['apache', { proxy_upstream_timeout: 5, proxy_federation_port: 8448 }, '/etc/apache2/sites-enabled/mxplay-matrix.conf', ['ProxyTimeout 5']],
  ] as const)('%s %j: every Matrix virtual host waits as long as Synapse may take', { timeout: 30_000 }, async (role, vars, path, lines) => {
    const conf = await rendered(role, vars, path);
    const vhosts = 'proxy_federation_port' in vars ? 2 : 1;
    for (const l of lines) expect(conf.split('\n').filter((x) => x.trim() === l)).toHaveLength(vhosts);
  });
});

describe('snippets the shell accepted once are not checked again', () => {
  const withCacheHome = async (f: (home: string) => Promise<void>) => {
    const home = tempDir();
    const before = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = home;
    try {
      await f(home);
    } finally {
      if (before === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = before;
    }
  };

  it('one that parsed is remembered in a private folder; one that did not, never', async () => {
    await withCacheHome(async () => {
      expect(await shellSyntaxError('echo remembered')).toBeUndefined();
      expect(await shellSyntaxError('echo "unterminated')).toMatch(/Unterminated quoted string/);
      const dir = passedFolder()!;
      expect(readdirSync(dir).filter((n) => n !== '.pruned')).toEqual([passedName(embedded('echo remembered'))]); // .pruned: when it was last swept
      expect(statSync(dir).mode & 0o077).toBe(0);
    });
  });

  it('a remembered one starts no shell (even a planted wrong entry is believed); in a folder others can write, none is', async () => {
    await withCacheHome(async () => {
      const dir = passedFolder()!;
      writeFileSync(join(dir, passedName(embedded('echo "planted'))), '');
      expect(await shellSyntaxError('echo "planted')).toBeUndefined();
    });
    // A new cache home each time: its folder is looked up afresh.
    await withCacheHome(async (home) => {
      mkdirSync(join(home, 'mxplay', 'sh-ok'), { recursive: true, mode: 0o777 });
      chmodSync(join(home, 'mxplay', 'sh-ok'), 0o777);
      expect(passedFolder()).toBeUndefined();
      expect(await shellSyntaxError('echo "planted')).toMatch(/Unterminated quoted string/);
    });
  });
});
