// The runner itself on real lab hosts: a playbook with a package, config files and a service
// converges, a second run changes nothing, --check shows exactly a drifted file, a host that
// is down is reported unreachable while the others converge, and sudo become works. -vv and
// --log-file show the probe and apply scripts sent, a role's secret masked in every form; -vvv
// shows the host keys and how they were checked, the algorithms negotiated, and sudo.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { labHosts, KEY_FILE, KNOWN_HOSTS_FILE, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';
import { onTerminal } from './helpers/terminal.ts';

const PLAYBOOK = `
- name: web server
  hosts: web
  become: true
  tasks:
    - apt: { names: [lighttpd] }
    - file:
        path: /var/www/html/index.html
        content: "hello from mxplay\\n"
    - file:
        path: /etc/lighttpd/conf-enabled/99-mxplay.conf
        content: "server.tag = \\"mxplay-lab\\"\\n"
        validate: lighttpd -tt -f /etc/lighttpd/lighttpd.conf
        notify: reload lighttpd
    - service: { name: lighttpd, enabled: true, state: started }
  handlers:
    - name: reload lighttpd
      service: { name: lighttpd, state: reloaded }
`;

describe('mxplay run on lab hosts', () => {
  let lab: LabFixture;
  let project: string;
  const page = async (host: string) => {
    const res = await fetch(`http://${lab.host(host).ip}/`, { signal: AbortSignal.timeout(10_000) });
    return { body: await res.text(), server: res.headers.get('server') };
  };

  beforeAll(async () => {
    lab = await labHosts(['eng1', 'eng2']);
    // eng2 is reached as an ordinary user who becomes root through sudo, as on most servers.
    const setup = await lab.ssh('eng2', [
      'useradd -m -s /bin/sh deploy',
      'install -d -m 700 -o deploy -g deploy /home/deploy/.ssh',
      'install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys',
      "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy",
    ].join(' && '));
    expect(setup.code, setup.stderr).toBe(0);
    project = await projectDir('engine');
    const inventory = {
      all: {
        vars: { ansible_user: 'root', ansible_ssh_private_key_file: KEY_FILE, mxplay_known_hosts_file: KNOWN_HOSTS_FILE },
        children: {
          web: {
            hosts: {
              eng1: { ansible_host: lab.host('eng1').ip },
              eng2: { ansible_host: lab.host('eng2').ip, ansible_user: 'deploy' },
              // No lab host has this address: it stands for a server that is down.
              gone: { ansible_host: '10.231.0.254', mxplay_connect_timeout: 3 },
            },
          },
        },
      },
    };
    await writeFile(join(project, 'e2e.yml'), stringify(inventory));
    await writeFile(join(project, 'site.yml'), PLAYBOOK);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('converges the reachable hosts and reports the one that is down as unreachable', async () => {
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e.yml', '--yes', '--json'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const gone = r.json!.results.find((x) => x.host === 'gone')!;
    expect(gone.status).toBe('unreachable');
    expect(gone.message).toMatch(/10\.231\.0\.254/);
    for (const h of ['eng1', 'eng2']) {
      expect(r.json!.results.find((x) => x.host === h)!.status).toBe('changed');
      expect(changedOf(r, h)).toBeGreaterThanOrEqual(3);
      const p = await page(h);
      expect(p.body).toBe('hello from mxplay\n');
      expect(p.server).toBe('mxplay-lab');
    }
    // Written through sudo on eng2: owned by root, not by the login user.
    const owner = await lab.ssh('eng2', 'stat -c %U:%G /var/www/html/index.html');
    expect(owner.stdout.trim()).toBe('root:root');
  });

  it('a second run reports 0 changed', async () => {
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e.yml', '--limit', '!gone', '--yes', '--json'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'eng1')).toBe(0);
    expect(changedOf(r, 'eng2')).toBe(0);
  });

  it('--check on a host with a drifted file shows exactly that diff and changes nothing', async () => {
    await lab.ssh('eng1', "printf 'edited by hand\\n' > /var/www/html/index.html");
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e.yml', '--limit', '!gone', '--check', '--detailed-exitcode'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^eng1 {2}1 change$/m);
    expect(r.stdout).toMatch(/^eng2 {2}no changes$/m);
    expect(r.stdout).toContain('~ file /var/www/html/index.html');
    expect(r.stdout).toContain('-edited by hand');
    expect(r.stdout).toContain('+hello from mxplay');
    expect((await page('eng1')).body).toBe('edited by hand\n');
  });

  it('--step on a terminal: one question per host, a host answered no is left as it is and reported skipped', async () => {
    await lab.ssh('eng2', "printf 'edited by hand\\n' > /var/www/html/index.html");
    // A real terminal (script(1) gives the CLI a pty); each answer typed when its question shows.
    const answers = new Map([['Apply 1 change on eng1?', 'n'], ['Apply 1 change on eng2?', 'y']]);
    const r = await onTerminal(['run', 'site.yml', '-i', 'e2e.yml', '--limit', '!gone', '--step'], answers, project);
    expect(r.code, r.output).toBe(0);
    expect([...answers.keys()].every((q) => r.asked.includes(q)), r.output).toBe(true);
    expect(r.output).toMatch(/eng1.*skipped/);
    expect(r.output).toContain('not applied: declined at the --step question');
    expect((await page('eng1')).body).toBe('edited by hand\n');
    expect((await page('eng2')).body).toBe('hello from mxplay\n');
  });

  it('a config the service rejects is not swapped in, and the service keeps serving', async () => {
    await writeFile(join(project, 'broken.yml'), PLAYBOOK.replace('server.tag = \\"mxplay-lab\\"', 'server.tag = = broken'));
    const r = await mxplay(['run', 'broken.yml', '-i', 'e2e.yml', '--limit', 'eng1', '--yes', '--json'], { cwd: project });
    expect(r.code).toBe(1);
    const res = r.json!.results.find((x) => x.host === 'eng1')!;
    expect(res.status).toBe('failed');
    expect(res.message).toMatch(/validation failed \(lighttpd -tt/);
    const conf = await lab.ssh('eng1', 'cat /etc/lighttpd/conf-enabled/99-mxplay.conf');
    expect(conf.stdout).toBe('server.tag = "mxplay-lab"\n');
    expect((await page('eng1')).server).toBe('mxplay-lab');
  });

  it('a handler notified by a run that then failed stays pending on the host and fires on the next run', async () => {
    await writeFile(join(project, 'fails.yml'), `
- hosts: web
  tasks:
    - file:
        path: /etc/lighttpd/conf-enabled/98-extra.conf
        content: "# extra\\n"
        notify: reload lighttpd
    - command: { name: a step that fails, cmd: "echo 'disk full' >&2; exit 7" }
  handlers:
    - name: reload lighttpd
      service: { name: lighttpd, state: reloaded }
`);
    const failed = await mxplay(['run', 'fails.yml', '-i', 'e2e.yml', '--limit', 'eng1', '--yes', '--json'], { cwd: project });
    expect(failed.code).toBe(1);
    const res = failed.json!.results.find((x) => x.host === 'eng1')!;
    expect(res.message).toMatch(/command a step that fails: failed with exit 7:\s+disk full/);
    expect((res as unknown as { handlers: string[] }).handlers).toEqual([]);
    expect((await lab.ssh('eng1', 'cat /var/lib/mxplay/pending-handlers')).stdout).toBe('reload lighttpd\n');

    const next = await mxplay(['run', 'site.yml', '-i', 'e2e.yml', '--limit', 'eng1', '--yes'], { cwd: project });
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).toContain('! handler reload lighttpd  pending from an earlier run');
    expect(next.stderr).toContain('[eng1] handler reload lighttpd');
    expect((await lab.ssh('eng1', 'cat /var/lib/mxplay/pending-handlers')).stdout).toBe('');
  });
  describe('-v, -vv, -vvv and --log-file', () => {
    // A secret with characters that JSON, shell quoting, URLs, HTML and base64 each write their
    // own way, and random letters that only this secret holds.
    const own = () => [...randomBytes(12)].map((x) => 'GHJKLMNPQRSTVWXYZghjkmnpqrstvwxyz'[x % 33]).join('');
    const SECRET = `Vb'${own()}"\\/+&<é>${own()}`;
    const ROLE = `import { defineRole, z, secret, file, command } from 'mxplay';
export default defineRole({
  name: 'vsecret',
  vars: z.object({ vsecret_password: secret() }),
  tasks: (v) => [
    file({ path: '/root/vsecret.conf', content: 'password = ' + v.vsecret_password + '\\n', mode: 0o600, notify: 'note change' }),
    command({ name: 'seed', cmd: "printf '%s' '" + v.vsecret_password.replaceAll("'", "'\\\\''") + "' > /root/vsecret-seed", creates: '/root/vsecret-seed' }),
  ],
  handlers: {
    'note change': command({ name: 'note', cmd: 'date > /root/vsecret-noted' }),
    'never notified': command({ name: 'never', cmd: 'true' }),
  },
});
`;
    const logFile = () => join(project, 'logs', 'mxplay.log');
    const env = () => ({ MXP_VERBOSE_SECRET: SECRET, VITEST: '' });
    const cli = (...args: string[]) => mxplay(['run', 'verbose.yml', '-i', 'e2e.yml', '--limit', '!gone', '-e', '@vsecret.yml', ...args], { cwd: project, env: env() });
    /** The secret in every encoding an output could carry it in: none may appear. */
    const forms = () => {
      const b64 = [0, 1, 2].map((lead) => {
        const body = Buffer.from(SECRET).subarray(lead);
        return body.subarray(0, body.length - (body.length % 3)).toString('base64');
      });
      return [
        SECRET,
        JSON.stringify(SECRET).slice(1, -1),
        SECRET.replaceAll("'", `'\\''`),
        encodeURIComponent(SECRET),
        ...b64,
        // inside a longer base64 text, cut where the here-document's lines break
        ...b64.flatMap((x) => [x.slice(0, 12), x.slice(12, 24), x.slice(-12)]),
        // its random letters, in any encoding that keeps letters as they are
        ...SECRET.split(/["'\\/+&<>é]/).filter((p) => p.length >= 6),
      ];
    };
    const expectNoSecret = (text: string, where: string) => {
      for (const f of forms()) expect(text.includes(f), `${where} holds the secret as ${JSON.stringify(f)}`).toBe(false);
    };
    const line = (h: string, re: string) => new RegExp(`^\\[${h}\\] ${re}$`, 'm');

    beforeAll(async () => {
      await mkdir(join(project, 'roles', 'vsecret'), { recursive: true });
      await mkdir(join(project, 'logs'));
      await writeFile(join(project, 'roles', 'vsecret', 'role.ts'), ROLE);
      await writeFile(join(project, 'vsecret.yml'), 'vsecret_password: !env MXP_VERBOSE_SECRET\n');
      await writeFile(join(project, 'verbose.yml'), '- hosts: web\n  become: true\n  roles: [vsecret]\n');
    });

    it('-vv --log-file: the probe and apply scripts sent, timings and handler decisions, the secret masked everywhere', async () => {
      const r = await cli('--yes', '-vv', '--log-file', logFile());
      expect(r.code, r.stdout + r.stderr).toBe(0);
      // The hosts got the secret itself.
      expect((await lab.ssh('eng1', 'cat /root/vsecret-seed')).stdout).toBe(SECRET);
      expect((await lab.ssh('eng2', 'cat /root/vsecret.conf')).stdout).toBe(`password = ${SECRET}\n`);
      for (const h of ['eng1', 'eng2']) {
        for (const re of [
          // -v: timings, round trips, handler decisions
          'connected in \\d+\\.\\d{3}s \\(ssh, become root\\)',
          'probe: 2 resource\\(s\\) in \\d+\\.\\d{3}s',
          'apply: 2 change\\(s\\) in \\d+\\.\\d{3}s: file /root/vsecret\\.conf, command seed',
          'handler note change: runs \\(end of play ".*"\\), notified by file /root/vsecret\\.conf',
          'handler never notified: skipped, not notified',
          'changed: 4 round trips, \\d+\\.\\d{3}s in all, 2 changed, handlers run: note change',
          // -vv: the scripts, each as a block
          'probe script, round trip 1 \\(\\d+ bytes\\):',
          '\\| echo "@@mxp pending"',
          'apply script, round trip 2 \\(\\d+ bytes\\):',
          "\\| mxp_put /root/vsecret\\.conf 0600 root root <<'MXP_EOF'",
          '\\| \\[\\d+ bytes of data, not shown\\]',
          "\\| printf '%s' '\\*{8}' > /root/vsecret-seed",
          'handlers script, round trip 4 \\(\\d+ bytes\\):',
        ]) expect(r.stderr).toMatch(line(h, re));
      }
      // -vvv's transport details are not shown at -vv.
      expect(r.stderr).not.toMatch(/host key|kex /);
      const logged = await readFile(logFile(), 'utf8');
      for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['the log file', logged]] as const) expectNoSecret(text, where);

      // The log file: the same lines, each with a timestamp (stderr has the progress lines too).
      const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
      const lines = logged.trimEnd().split('\n');
      for (const l of lines) expect(l).toMatch(stamp);
      expect(lines[0]).toMatch(/Z mxplay started \(pid \d+, verbosity 2\)$/);
      const bare = lines.slice(1).map((l) => l.replace(stamp, ''));
      const shown = new Set(r.stderr.split('\n'));
      expect(bare.filter((l) => !shown.has(l))).toEqual([]);
      expect(bare.length).toBeGreaterThan(200);
      expect(bare).toContain('[eng1] | echo "@@mxp pending"');
    });

    it('-vvv: host keys and how they were checked, algorithms, sudo; MXPLAY_LOG without -v appends the -v lines', async () => {
      const before = await readFile(logFile(), 'utf8');
      const r = await cli('--check', '-vvv');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const ip = lab.host('eng1').ip;
      const known = (await readFile(KNOWN_HOSTS_FILE, 'utf8')).split('\n').filter((l) => l.split(' ')[0]!.split(',').includes(ip));
      const prints = known.map((l) => `SHA256:${createHash('sha256').update(Buffer.from(l.split(' ')[2]!, 'base64')).digest('base64').replace(/=+$/, '')}`);
      const m = /^\[eng1\] eng1 \(([\d.]+)\): host key (\S+) (SHA256:\S+): known: found as .* in (.*) \(host key checking strict\)$/m.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      expect(m![1]).toBe(ip);
      expect(prints).toContain(m![3]);
      expect(m![4]).toContain(KNOWN_HOSTS_FILE);
      expect(r.stderr).toMatch(line('eng1', 'eng1: kex \\S+, host key \\S+, client→server \\S+.*, server→client \\S+.*'));
      expect(r.stderr).toMatch(line('eng1', 'eng1: ssh ready in \\d+\\.\\d{3}s \\(server OpenSSH\\S*, authenticated as root with key .*\\)'));
      expect(r.stderr).toMatch(line('eng2', '\\| direct, no jump host'));
      expect(r.stderr).toMatch(line('eng2', "exec sudo -n -H -u root /bin/sh -c 'echo MXPLAY-BECOME-OK-\\w+; exec /bin/sh -s'"));
      expect(r.stderr).toMatch(line('eng2', 'become root \\(as deploy\\): the shell started; sudo -n'));
      expect(r.stderr).toMatch(line('eng1', 'exec /bin/sh -s'));
      expectNoSecret(r.stdout + r.stderr, 'the output at -vvv');

      // MXPLAY_LOG without -v: nothing more on stderr, the -v lines appended to the file.
      const quiet = await mxplay(['run', 'verbose.yml', '-i', 'e2e.yml', '--limit', 'eng1', '-e', '@vsecret.yml', '--check'], {
        cwd: project,
        env: { ...env(), MXPLAY_LOG: logFile() },
      });
      expect(quiet.code, quiet.stderr).toBe(0);
      expect(quiet.stderr).not.toMatch(/round trip|probe:/);
      const after = await readFile(logFile(), 'utf8');
      expect(after.startsWith(before)).toBe(true);
      const added = after.slice(before.length);
      expect(added).toMatch(/Z mxplay started \(pid \d+, verbosity 0\)\n/);
      expect(added).toMatch(/Z \[eng1\] probe: 2 resource\(s\) in \d+\.\d{3}s\n/);
      expect(added).not.toContain('probe script');
      expectNoSecret(after, 'the log file');
    });

    it('a log file that cannot be opened is an input error naming it, before any host is contacted', async () => {
      const bad = join(project, 'no-such-dir', 'x.log');
      const r = await cli('--check', '-v', '--log-file', bad);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${bad}: cannot open the log file for appending: its folder does not exist`);
      expect(r.stderr).not.toMatch(/connected in|\[eng1\]/);
    });
  });
});
