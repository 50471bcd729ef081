// coturn next to Synapse on one fresh lab host, converged by the real CLI: Synapse hands out
// ephemeral TURN credentials derived from the same shared secret coturn was given, and coturn
// really relays packets with them (turnutils_uclient from the coturn package, on the host).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, eventually, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MASTER = 'e2e-master-secret-0123456789';
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('coturn role next to Synapse on one fresh host', () => {
  let lab: LabFixture;
  let project: string;
  let ip: string;
  const base = () => `http://${ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });

  beforeAll(async () => {
    lab = await labHosts(['turn1']);
    ip = lab.host('turn1').ip;
    project = await projectDir('coturn');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_server_name: 'turn1.lab.test',
      synapse_public_baseurl: 'https://turn1.lab.test/',
      synapse_admin_user: 'admin',
      synapse_admin_password: ADMIN_PASSWORD,
      synapse_bind_addresses: ['0.0.0.0'],
      coturn_realm: lab.host('turn1').fqdn,
      // Lab addresses are private, denied as peers by default: allow the lab network only.
      coturn_allowed_peer_ips: ['10.231.0.0/24'],
    }, { matrix: ['turn1'] });
    await writeFile(join(project, 'site.yml'), '- hosts: matrix\n  roles: [postgres, synapse, coturn]\n');
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('--check on the bare host plans coturn (group unresolved until the package) with the secret masked', async () => {
    const r = await run('--check', '--detailed-exitcode');
    expect(r.code, r.stderr + r.stdout).toBe(2);
    expect(r.stdout).toContain('+ apt coturn');
    expect(r.stdout).toMatch(/\? template \/etc\/turnserver\.conf/);
    // Synapse's user owns it: known once the synapse role's package has made the user
    expect(r.stdout).toContain('? yaml /etc/matrix-synapse/conf.d/turn.yaml');
    expect(r.stdout).not.toContain(MASTER);
  });

  it('converges; Synapse hands out TURN credentials that coturn accepts and relays with', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'turn1')).toBeGreaterThan(10);

    const conf = await lab.ssh('turn1', "stat -c '%a %U %G' /etc/turnserver.conf; systemctl is-active coturn; systemctl is-enabled coturn");
    expect(conf.stdout.trim().split('\n')).toEqual(['640 root turnserver', 'active', 'enabled']);

    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token;
    const turn = await api(base(), '/_matrix/client/v3/voip/turnServer', { token });
    expect(turn.status, turn.text).toBe(200);
    expect(turn.json.uris).toEqual(['turn:turn1.lab.test:3478?transport=udp', 'turn:turn1.lab.test:3478?transport=tcp']);
    expect(turn.json.username).toMatch(/^\d+:@admin:turn1\.lab\.test$/);
    expect(turn.json.password).toBeTruthy();
    expect(turn.json.ttl).toBe(3600);

    // Two clients relay to each other (-y) through allocations on coturn, with Synapse's credentials.
    const uclient = `timeout 60 turnutils_uclient -y -n 20 -m 2 -l 170 -p 3478 -u ${sq(turn.json.username)} -w ${sq(turn.json.password)} ${ip}`;
    const ok = await lab.ssh('turn1', `${uclient} 2>&1; echo "exit=$?"`);
    console.log(`turnutils_uclient output (tail):\n${ok.stdout.split('\n').slice(-14).join('\n')}`);
    expect(ok.stdout).toMatch(/exit=0\s*$/);
    // The final totals line (the per-second progress lines carry "msz=").
    const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(ok.stdout);
    expect(totals, ok.stdout).not.toBeNull();
    const sent = Number(totals![1]);
    const received = Number(totals![2]);
    expect(sent).toBeGreaterThan(0);
    expect(received).toBe(sent);
    expect(ok.stdout).toMatch(/Total lost packets 0 \(0\.0+%\)/);

    // A wrong password is refused: the relay is not open.
    const bad = await lab.ssh('turn1', `timeout 30 turnutils_uclient -y -n 5 -m 1 -p 3478 -u ${sq(turn.json.username)} -w wrong ${ip} 2>&1; echo "exit=$?"`);
    expect(bad.stdout).not.toMatch(/exit=0\s*$/);
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'turn1')).toBe(0);
  });

  it('mxplay verify asks coturn for a STUN binding over UDP from this machine, as a WebRTC client does first', async () => {
    const r = await mxplay(['verify', 'site.yml', '-i', 'e2e', '--json'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { host: string; role: string; where: string; ok: boolean; detail: string }[] };
    expect(report.results).toEqual([expect.objectContaining({
      host: 'turn1', role: 'coturn', where: `${lab.host('turn1').ip}:3478/udp`, ok: true,
      // The address coturn saw this machine at: the lab bridge's.
      detail: expect.stringMatching(/^Binding answered: it sees this machine as 10\.231\.0\.1:\d+$/),
    })]);
  });

  it('coturn_synapse_fragment=false removes the turn fragment; Synapse restarts and serves without TURN', async () => {
    const r = await run('--yes', '--json', '-e', 'coturn_synapse_fragment=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'turn1')!.changes;
    expect(changes.map((c) => [c.action, c.id])).toEqual([['-', '/etc/matrix-synapse/conf.d/turn.yaml']]);
    const res = r.json!.results.find((x) => x.host === 'turn1') as unknown as { changed: number; handlers: string[] };
    expect(res.handlers).toEqual(['restart synapse']);

    const gone = await lab.ssh('turn1', 'test -e /etc/matrix-synapse/conf.d/turn.yaml && echo present || echo absent; systemctl is-active matrix-synapse');
    expect(gone.stdout.trim().split('\n')).toEqual(['absent', 'active']);
    const token = (await eventually(async () => {
      const l = await login(base(), 'admin', ADMIN_PASSWORD);
      if (l.status !== 200) throw new Error(l.text);
      return l;
    })).json.access_token;
    const turn = await api(base(), '/_matrix/client/v3/voip/turnServer', { token });
    expect(turn.status, turn.text).toBe(200);
    expect(turn.json.uris ?? []).toEqual([]);
  });
});
