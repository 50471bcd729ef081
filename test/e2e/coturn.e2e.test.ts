// coturn next to Synapse on a fresh lab host (turn1), converged by the real CLI with every setting a
// production inventory gives it: its own ports and listening address, a relay port range, the
// public address it announces (external-ip), a lab-CA certificate for TURN over TLS, its own list of
// denied peers with one exception, quotas and Synapse's turn_* settings. Every check is made by a
// TURN client on ANOTHER lab host (turn2): turnutils_uclient relays packets to a peer there, and a
// small Allocate client (helpers/turn-allocate.py) reads coturn's own answers (401, 486, the relayed
// address); openssl s_client checks the certificate on the TLS port.
import { createHmac } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { q } from '../../src/resources/sh.ts';
import { issueCertificate, labCa } from '../lab/ca.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { api, eventually, login } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MASTER = 'e2e-master-secret-0123456789';
/** Quotes, a #, $ and a backslash: coturn's config reader and Synapse's YAML must both keep it whole. */
const SECRET = `e2e turn "secret" #1 $x\\y 'z'`;
const PORT = 3480;
const TLS_PORT = 5350;
const PUBLIC_IP = '198.51.100.7';
const RELAY = { min: 50000, max: 50009 };
const TLS = { cert: '/etc/coturn-e2e/turn.crt', key: '/etc/coturn-e2e/turn.key' };
const PEER_PORT = 3490;
const ALLOCATE = new URL('./helpers/turn-allocate.py', import.meta.url);

/** TURN REST API credentials, as Synapse makes them from the shared secret. */
function credentials(name: string): [string, string] {
  const user = `${Math.floor(Date.now() / 1000) + 3600}:${name}`;
  return [user, createHmac('sha1', SECRET).update(user).digest('base64')];
}

interface Allocation { challenge: number; realm: string; code: number; relayed?: string }

describe('coturn role next to Synapse, used from another lab host', () => {
  let lab: LabFixture;
  let project: string;
  let ip: string;
  let clientIp: string;
  const base = () => `http://${ip}:8008`;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  /** Allocations made one after another from turn2, kept until all are made, then released. */
  const allocate = async (creds: [string, string][]): Promise<Allocation[]> => {
    const script = await readFile(ALLOCATE, 'utf8');
    const r = await lab.ssh('turn2', `python3 - ${q(ip)} ${PORT} ${creds.flat().map(q).join(' ')} <<'PYEOF'\n${script}PYEOF`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^released \d+$/);
    return lines.slice(0, -1).map((l) => JSON.parse(l) as Allocation);
  };
  /** turnutils_uclient on turn2: packets through a relay on turn1 to the echo peer PEER (-e). */
  const uclient = (creds: [string, string], peer: string, extra = '') =>
    lab.ssh('turn2', `timeout 60 turnutils_uclient ${extra} -n 10 -m 1 -c -l 170 -e ${q(peer)} -r ${PEER_PORT} -u ${q(creds[0])} -w ${q(creds[1])} ${q(ip)} 2>&1; echo "exit=$?"`);

  beforeAll(async () => {
    lab = await labHosts(['turn1', 'turn2']);
    ip = lab.host('turn1').ip;
    clientIp = lab.host('turn2').ip;
    project = await projectDir('coturn');
    const cert = await issueCertificate([lab.host('turn1').fqdn]);
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      synapse_server_name: 'turn1.lab.test',
      synapse_public_baseurl: 'https://turn1.lab.test/',
      synapse_admin_user: 'admin',
      synapse_admin_password: ADMIN_PASSWORD,
      synapse_bind_addresses: ['0.0.0.0'],
    }, { matrix: ['turn1'] });
    await mkdir(join(inv, 'host_vars'));
    await writeFile(join(inv, 'host_vars', 'turn1.yml'), stringify({
      coturn_realm: lab.host('turn1').fqdn,
      coturn_shared_secret: SECRET,
      coturn_listening_ips: [ip],
      coturn_listening_port: PORT,
      coturn_tls_listening_port: TLS_PORT,
      // Behind NAT: relays are opened on the lab address, announced as the public one.
      coturn_external_ip: `${PUBLIC_IP}/${ip}`,
      coturn_min_port: RELAY.min,
      coturn_max_port: RELAY.max,
      coturn_tls_cert: TLS.cert,
      coturn_tls_key: TLS.key,
      // The whole lab network is denied as a peer, except the client host's echo peer.
      coturn_denied_peer_ips: ['10.231.0.0/24', '127.0.0.0/8', '::1'],
      coturn_allowed_peer_ips: [clientIp],
      coturn_user_quota: 2,
      coturn_total_quota: 6,
      coturn_turn_uris: [`turns:turn1.lab.test:${TLS_PORT}?transport=tcp`, `turn:turn1.lab.test:${PORT}?transport=udp`],
      coturn_turn_user_lifetime: '2h',
      coturn_turn_allow_guests: false,
    }));
    await writeFile(join(project, 'site.yml'), stringify([
      {
        // The certificate is the administrator's (here: the lab CA's), readable by coturn's group.
        name: 'TURN certificate', hosts: 'matrix',
        tasks: [
          { apt: { names: ['coturn'] } },
          { directory: { path: '/etc/coturn-e2e', mode: '0755' } },
          { file: { path: TLS.cert, content: cert.certPem, mode: '0644' } },
          { file: { path: TLS.key, content: cert.keyPem, mode: '0640', group: 'turnserver', sensitive: true } },
        ],
      },
      { name: 'Matrix with TURN', hosts: 'matrix', roles: ['postgres', 'synapse', 'coturn'] },
    ]));
    // The client host: coturn's test tools (its server stays off), the lab CA, an echo peer.
    const ca = await labCa();
    const client = await lab.ssh('turn2', `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install coturn >/dev/null
systemctl disable --now coturn 2>/dev/null
cat > /root/lab-ca.crt <<'CAEOF'
${ca.certPem}CAEOF
setsid -f turnutils_peer -L ${q(clientIp)} -p ${PEER_PORT} >/dev/null 2>&1 </dev/null
for i in $(seq 100); do ss -Hlun 'sport = :${PEER_PORT}' | grep -q . && exit 0; sleep 0.1; done
echo 'the echo peer did not start' >&2; exit 1`);
    expect(client.code, client.stderr).toBe(0);
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
    expect(r.stdout).not.toContain('"secret" #1');
  });

  it('converges; Synapse hands out the configured turn_* settings with credentials from the shared secret', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'turn1')).toBeGreaterThan(10);
    expect(r.stdout + r.stderr).not.toContain('"secret" #1');

    const conf = await lab.ssh('turn1', "stat -c '%a %U %G' /etc/turnserver.conf; systemctl is-active coturn; systemctl is-enabled coturn");
    expect(conf.stdout.trim().split('\n')).toEqual(['640 root turnserver', 'active', 'enabled']);
    // coturn_listening_ips: its ports are bound on that address only (not on 0.0.0.0 or loopback).
    const bound = await lab.ssh('turn1', `ss -Hlnup 'sport = :${PORT}' | awk '{print $4}' | sort -u; ss -Hlntp 'sport = :${TLS_PORT}' | awk '{print $4}' | sort -u`);
    expect(bound.stdout.trim().split('\n')).toEqual([`${ip}:${PORT}`, `${ip}:${TLS_PORT}`]);

    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token;
    const turn = await api(base(), '/_matrix/client/v3/voip/turnServer', { token });
    expect(turn.status, turn.text).toBe(200);
    expect(turn.json.uris).toEqual([`turns:turn1.lab.test:${TLS_PORT}?transport=tcp`, `turn:turn1.lab.test:${PORT}?transport=udp`]);
    expect(turn.json.username).toMatch(/^\d+:@admin:turn1\.lab\.test$/);
    expect(turn.json.password).toBe(createHmac('sha1', SECRET).update(turn.json.username).digest('base64'));
    expect(turn.json.ttl).toBe(7200); // coturn_turn_user_lifetime: 2h
    // Guests get no TURN credentials: Synapse's own setting, as written (guests cannot register here).
    const fragment = await lab.ssh('turn1', 'grep -x "turn_allow_guests: false" /etc/matrix-synapse/conf.d/turn.yaml');
    expect(fragment.code, fragment.stdout + fragment.stderr).toBe(0);
  });

  it('TURN over TLS on its port: the lab-CA certificate verifies for the realm, from the client host', async () => {
    const r = await lab.ssh('turn2', `openssl s_client -brief -connect ${q(`${lab.host('turn1').fqdn}:${TLS_PORT}`)} -servername ${q(lab.host('turn1').fqdn)} -CAfile /root/lab-ca.crt -verify_return_error </dev/null 2>&1`);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^Verification: OK$/m);
    expect(r.stdout).toMatch(/^Peer certificate: CN\s*=\s*turn1\.lab\.test$/m);
  });

  it("coturn's own answers to another host: 401 for a wrong password, 486 over each quota, relays announced at the external IP in the port range", async () => {
    const token = (await login(base(), 'admin', ADMIN_PASSWORD)).json.access_token;
    const turn = await api(base(), '/_matrix/client/v3/voip/turnServer', { token });
    const synapse: [string, string] = [turn.json.username, turn.json.password];
    const [b, c] = [credentials('bob'), credentials('carol')];
    const answers = await allocate([synapse, synapse, synapse, [synapse[0], 'wrong-password'], b, b, c, c, c]);
    // Each first request is challenged with the realm: these are coturn's answers, not a timeout.
    for (const a of answers) expect(a).toMatchObject({ challenge: 401, realm: 'turn1.lab.test' });
    expect(answers.map((a) => a.code)).toEqual([
      200, 200, 486, // coturn_user_quota: 2 per user
      401, // a wrong password
      200, 200, 200, 200, 486, // coturn_total_quota: 6 in all (carol is under her own quota)
    ]);
    for (const a of answers.filter((x) => x.code === 200)) {
      const [host, port] = a.relayed!.split(':');
      expect(host).toBe(PUBLIC_IP);
      expect(Number(port)).toBeGreaterThanOrEqual(RELAY.min);
      expect(Number(port)).toBeLessThanOrEqual(RELAY.max);
    }
  });

  it("relays packets from the client host to the allowed peer, over UDP and over TLS; a denied peer is refused 403", async () => {
    const totals = (out: string) => {
      // The final totals line (the per-second progress lines carry "msz=").
      const m = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(out);
      expect(m, out).not.toBeNull();
      return [Number(m![1]), Number(m![2])];
    };
    // A TURN user of its own (Synapse's credentials are proven by the quota test). That test just
    // filled coturn's total quota and released its allocations, which coturn frees a little later:
    // until then the client is refused 486 at once, with nothing allocated.
    const udp = await eventually(async () => {
      const r = await uclient(credentials('relay-user'), clientIp, `-p ${PORT}`);
      expect(r.stdout).not.toMatch(/error 486/);
      return r;
    }, 60_000, 1_000);
    expect(udp.stdout).toMatch(/exit=0\s*$/);
    expect(totals(udp.stdout)).toEqual([10, 10]);
    const tls = await uclient(credentials('tls-user'), clientIp, `-t -S -p ${TLS_PORT}`);
    expect(tls.stdout).toMatch(/exit=0\s*$/);
    expect(totals(tls.stdout)).toEqual([10, 10]);
    // The control machine's lab address: in the denied network, not the allowed exception.
    const denied = await uclient(credentials('denied-peer'), '10.231.0.1', `-p ${PORT}`);
    expect(denied.stdout).toMatch(/channel bind: error 403/);
    expect(denied.stdout).not.toMatch(/exit=0\s*$/);
    expect(denied.stdout).not.toMatch(/tot_recv_msgs=[1-9]/);
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'turn1')).toBe(0);
  });

  it('mxplay verify asks coturn for a STUN binding over UDP from this machine, as a WebRTC client does first, and tries its TLS port', async () => {
    const r = await mxplay(['verify', 'site.yml', '-i', 'e2e', '--json'], { cwd: project });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { host: string; role: string; where: string; ok: boolean; detail: string }[] };
    expect(report.results).toEqual([expect.objectContaining({
      host: 'turn1', role: 'coturn', where: `${ip}:${PORT}/udp`, ok: true,
      // The address coturn saw this machine at: the lab bridge's.
      detail: expect.stringMatching(/^Binding answered: it sees this machine as 10\.231\.0\.1:\d+$/),
    }), expect.objectContaining({ host: 'turn1', role: 'coturn', where: `${ip}:${TLS_PORT}`, ok: true })]);
  });

  it('coturn_synapse_fragment=false removes the turn fragment; Synapse restarts and serves without TURN', async () => {
    const r = await run('--yes', '--json', '-e', 'coturn_synapse_fragment=false');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((p) => p.host === 'turn1')!.changes;
    expect(changes.map((c) => [c.action, c.id])).toEqual([['-', '/etc/matrix-synapse/conf.d/turn.yaml']]);
    const res = r.json!.results.find((x) => x.host === 'turn1') as unknown as { changed: number; handlers: string[] };
    expect(res.handlers).toEqual(['restart synapse if its config changed']);

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
