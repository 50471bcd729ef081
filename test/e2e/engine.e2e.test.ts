// The runner itself on real lab hosts: a playbook with a package, config files and a service
// converges, a second run changes nothing, --check shows exactly a drifted file, a host that
// is down is reported unreachable while the others converge, and sudo become works.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { labHosts, KEY_FILE, KNOWN_HOSTS_FILE, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

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
});
