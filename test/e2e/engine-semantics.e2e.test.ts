// Engine semantics a real multi-play run relies on, on two fresh lab hosts, each situation as a
// new user meets it writing plays of their own around the built-in roles:
// - a guard file written by an earlier play: the later play's `command ... creates:` is planned
//   (it did not exist yet), then skipped when it comes to run, and the file is left as written;
// - a handler defined by a later play: notified in one play, it fires once, at the end of the play
//   that defines it; one that only an earlier play defines is refused before connecting;
// - an unparsable snippet: refused by `sh -n` on this machine, naming file, line, host and task,
//   with no login on the host; a probe that fails at run time says the shell's own words;
// - a slow upstream behind nginx and apache: the proxies wait proxy_upstream_timeout (a short one
//   gives the proxy's own error at that time: nginx 504, Apache 502), and its default (330 s, past
//   Synapse's own federation retries) is what the configs carry, live.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { curl } from './helpers/https.ts';
import { mxplay, type CliResult } from './helpers/mxplay.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOSTS = [
  // What each proxy answers itself when the upstream outlasts its timeout.
  { name: 'sem-ng', proxy: 'nginx', conf: '/etc/nginx/conf.d/mxplay-matrix.conf', timeoutLine: (s: number) => `proxy_read_timeout ${s}s;`, gaveUp: { status: 504, body: /504 Gateway Time-out/ } },
  { name: 'sem-ap', proxy: 'apache', conf: '/etc/apache2/sites-enabled/mxplay-matrix.conf', timeoutLine: (s: number) => `ProxyTimeout ${s}`, gaveUp: { status: 502, body: /Error reading from remote server/ } },
] as const;
const H = 'sem-ng'; // the host of the plays without a proxy
const CA = '/etc/lab-ca/ca.crt';
const ORDER = '/root/order';

// A stand-in for Synapse on its port: /_matrix/slow?s=N answers 200 after N seconds.
const UPSTREAM = `
import http.server, json, time, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        s = float(q.get('s', ['0'])[0])
        time.sleep(s)
        body = json.dumps({'slept': s}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(('127.0.0.1', 8008), H).serve_forever()
`;

// A role of the user's own whose resource brings a probe snippet that fails on the host.
const PROBE_ROLE = `import { defineRole, z } from 'mxplay';
export default defineRole({
  name: 'trust_check',
  vars: z.object({}),
  tasks: () => [{
    type: 'check', id: 'lab CA trusted', notify: [], tags: [],
    probe: 'cat /usr/local/share/ca-certificates/lab.crt >/dev/null && echo \\'{"ok":true}\\'',
    plan: () => null,
  }],
});
`;

describe('engine semantics on lab hosts: run-time guards, handlers across plays, sh -n, proxy timeouts', () => {
  let lab: LabFixture;
  let project: string;
  const seconds: Record<string, number> = {};
  const cli = (args: string[]) => mxplay(args, { cwd: project, env: { VITEST: '' } });
  const run = (playbook: string, ...more: string[]) => cli(['run', playbook, '-i', 'lab', '--yes', '--json', ...more]);
  type HostResult = NonNullable<CliResult['json']>['results'][number] & { skippedAtRun?: string[] };
  const result = (r: CliResult, h: string): HostResult => r.json!.results.find((x) => x.host === h)!;
  const onHost = async (h: string, cmd: string) => (await lab.ssh(h, cmd)).stdout;
  const write = (name: string, text: string) => writeFile(join(project, name), text);

  beforeAll(async () => {
    lab = await labHosts(HOSTS.map((h) => h.name));
    project = await mkdtemp(join(tmpdir(), 'mxplay-semantics-'));
    await lab.writeInventory(join(project, 'inventory', 'lab'), {
      proxy_tls_self_signed: true,
    }, { nginx: ['sem-ng'], apache: ['sem-ap'], plain: [H] });
    await mkdir(join(project, 'inventory', 'lab', 'host_vars'));
    for (const { name } of HOSTS) {
      await writeFile(join(project, 'inventory', 'lab', 'host_vars', `${name}.yml`),
        `synapse_server_name: ${name}.lab.test\nsynapse_public_baseurl: https://matrix.${name}.lab.test/\n`);
    }
    await mkdir(join(project, 'roles', 'trust_check'), { recursive: true });
    await write('roles/trust_check/role.ts', PROBE_ROLE);
    await write('package.json', '{ "type": "module", "private": true }\n');
    await mkdir(join(project, 'node_modules'));
    await symlink(PACKAGE_ROOT, join(project, 'node_modules', 'mxplay'));
  });

  afterAll(async () => {
    if (Object.keys(seconds).length) console.log('engine-semantics e2e timings (s):', JSON.stringify(seconds));
    await lab?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('a guard file written by an earlier play: the later command is planned, then skipped at run time, and the file is kept', async () => {
    await write('guard.yml', `
- name: our own CA
  hosts: plain
  tasks:
    - directory: { path: /etc/lab-ca }
    - file: { path: ${CA}, content: "our CA\\n" }
- name: a role that makes a CA once
  hosts: plain
  tasks:
    - command:
        name: make a CA
        creates: ${CA}
        cmd: "mkdir -p /etc/lab-ca && echo 'another CA' > ${CA}"
        notify: restart synapse
  handlers:
    - name: restart synapse
      command: { cmd: "echo restarted >> /root/restarts" }
`);
    const check = await run('guard.yml', '--check');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const planned = check.json!.hosts.find((p) => p.host === H)!.changes;
    expect(planned.find((c) => c.id === 'make a CA')).toMatchObject({ action: '+', summary: 'run make a CA (creates re-checked at run time)' });

    const r = await run('guard.yml');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await onHost(H, `cat ${CA}`)).toBe('our CA\n');
    expect(result(r, H)).toMatchObject({ status: 'changed', changed: 2, skippedAtRun: ['command make a CA'], handlers: [] });
    expect((await lab.ssh(H, 'test -e /root/restarts')).code).not.toBe(0);
    // A second run: nothing left to do (the command is planned as done now).
    const again = await cli(['run', 'guard.yml', '-i', 'lab', '--yes']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^sem-ng {2}no changes$/m);
  });

  it('a handler defined by a later play fires once, at the end of that play; one only an earlier play defines is refused', async () => {
    await write('handlers.yml', `
- name: trust store
  hosts: plain
  tasks:
    - command: { name: trust our CA, cmd: "echo trust CA >> ${ORDER}", creates: /etc/lab-ca/trusted, notify: restart synapse }
    - file: { path: /etc/lab-ca/trusted, content: "yes\\n" }
- name: synapse (a stand-in)
  hosts: plain
  tasks:
    - command: { name: synapse config, cmd: "echo synapse config >> ${ORDER}", creates: /etc/lab-ca/configured }
    - file: { path: /etc/lab-ca/configured, content: "yes\\n" }
  handlers:
    - name: restart synapse
      command: { cmd: "echo restart synapse >> ${ORDER}" }
- name: later
  hosts: plain
  tasks:
    - command: { name: later, cmd: "echo later play >> ${ORDER}", creates: /etc/lab-ca/later }
    - file: { path: /etc/lab-ca/later, content: "yes\\n" }
  handlers:
    - name: restart synapse
      command: { cmd: "echo restart again >> ${ORDER}" }
`);
    const r = await run('handlers.yml');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await onHost(H, `cat ${ORDER}`)).toBe('trust CA\nsynapse config\nrestart synapse\nlater play\n');
    expect(result(r, H)).toMatchObject({ status: 'changed', handlers: ['restart synapse'] });
    expect(result(r, H).message).toBeUndefined();
    expect(await onHost(H, 'cat /var/lib/mxplay/pending-handlers')).toBe('');

    await write('refused.yml', `
- name: synapse first
  hosts: plain
  tasks: []
  handlers:
    - name: restart synapse
      command: { cmd: "echo restart >> ${ORDER}" }
- name: trust store after it
  hosts: plain
  tasks:
    - file: { path: /etc/lab-ca/refused, content: "x\\n", notify: restart synapse }
`);
    const refused = await cli(['run', 'refused.yml', '-i', 'lab', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused\.yml:11, host sem-ng: file \/etc\/lab-ca\/refused notifies 'restart synapse', which only an earlier play \("synapse first"\) defines: handlers run at the end of the play that defines them, so it would never run/);
    expect((await lab.ssh(H, 'test -e /etc/lab-ca/refused')).code).not.toBe(0);
  });

  it('an unparsable snippet is refused on this machine before any login, naming file, line, host and task', async () => {
    await write('unparsable.yml', `
- hosts: plain
  tasks:
    - file: { path: /root/should-not-exist, content: "x\\n" }
    - command:
        name: trust our CA
        cmd: update-ca-certificates
        unless: 'grep -q "lab CA /etc/ssl/certs/ca-certificates.crt'
    - command: { name: fine, cmd: "true" }
`);
    // Every login is in sshd's journal; this count's own login is the only one expected between.
    const logins = async () => Number((await onHost(H, "journalctl -o cat --no-pager | grep -c 'Accepted publickey' || true")).trim());
    const before = await logins();
    const r = await cli(['run', 'unparsable.yml', '-i', 'lab', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing was changed on any host/);
    expect(r.stderr).toMatch(/unparsable\.yml:5, host sem-ng: command trust our CA: its unless is not valid shell \(\/bin\/sh -n here, before connecting\): line 1: Syntax error: Unterminated quoted string/);
    expect(r.stderr).not.toMatch(/printed nothing/);
    expect(await logins()).toBe(before + 1);
    expect((await lab.ssh(H, 'test -e /root/should-not-exist')).code).not.toBe(0);
  });

  it('a probe that fails on the host reports the shell\'s own message and its resource, not "printed nothing"', async () => {
    await write('probe.yml', `
- hosts: plain
  roles: [trust_check]
  tasks:
    - file: { path: /root/after-probe, content: "x\\n" }
`);
    const r = await run('probe.yml', '--check');
    expect(r.code).toBe(1);
    const res = result(r, H);
    expect(res.status).toBe('failed');
    expect(res.message).toBe('check lab CA trusted: the probe failed (exit 1): cat: /usr/local/share/ca-certificates/lab.crt: No such file or directory');
  });

  it('a slow upstream behind nginx and apache: a short proxy_upstream_timeout gives the proxy\'s own error at that time; the default is 330 s', async () => {
    for (const { name } of HOSTS) {
      const up = await lab.ssh(name, `cat > /root/upstream.py <<'EOF'\n${UPSTREAM}\nEOF\nsystemd-run --unit slow-upstream python3 /root/upstream.py`);
      expect(up.code, up.stderr).toBe(0);
    }
    await write('proxy.yml', '- hosts: nginx\n  roles: [nginx]\n- hosts: apache\n  roles: [apache]\n');
    let t0 = Date.now();
    const r = await run('proxy.yml', '-e', 'proxy_upstream_timeout=3');
    seconds.converge = (Date.now() - t0) / 1000;
    expect(r.code, r.stdout + r.stderr).toBe(0);

    for (const { name } of HOSTS) await write(`${name}-ca.crt`, await onHost(name, 'cat /etc/ssl/mxplay-selfsigned/ca.crt'));
    const get = async (h: string, s: number) => {
      const ca = join(project, `${h}-ca.crt`);
      const t = Date.now();
      const a = await curl(`https://matrix.${h}.lab.test/_matrix/slow?s=${s}`, { ip: lab.host(h).ip, ca, timeoutS: 30 });
      return { status: a.status, body: a.body, took: (Date.now() - t) / 1000 };
    };
    for (const h of HOSTS) {
      expect((await onHost(h.name, `cat ${h.conf}`)).split('\n').map((l) => l.trim())).toContain(h.timeoutLine(3));
      const fast = await get(h.name, 1);
      expect(fast, h.name).toMatchObject({ status: 200 });
      expect(JSON.parse(fast.body)).toEqual({ slept: 1 });
      const slow = await get(h.name, 6);
      expect(slow.status, `${h.name}: ${slow.body}`).toBe(h.gaveUp.status);
      expect(slow.body).toMatch(h.gaveUp.body);
      expect(slow.took, h.name).toBeGreaterThanOrEqual(2.5);
      expect(slow.took, h.name).toBeLessThan(5.5);
      seconds[`${h.proxy} gave up after`] = slow.took;
    }

    // The default: rendered in both configs, and live (the same 6 s request now gets its answer).
    t0 = Date.now();
    const d = await run('proxy.yml');
    seconds.reconfigure = (Date.now() - t0) / 1000;
    expect(d.code, d.stdout + d.stderr).toBe(0);
    for (const h of HOSTS) {
      const lines = (await onHost(h.name, `cat ${h.conf}`)).split('\n').map((l) => l.trim());
      expect(lines).toContain(h.timeoutLine(330));
      expect(lines).not.toContain(h.timeoutLine(3));
      const slow = await get(h.name, 6);
      expect(slow, h.name).toMatchObject({ status: 200 });
      expect(JSON.parse(slow.body)).toEqual({ slept: 6 });
    }
  });
});
