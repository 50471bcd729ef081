// The firewall role on a fresh lab host, checked from another lab host: only the ports of the roles
// the host plays answer (TCP connects, and a real TURN allocation relayed through coturn's UDP
// ports), a role taken out of the playbook closes its ports, and a rule that cuts SSH off is
// reported as a failed confirmation and undone by the host itself.
import { createHmac } from 'node:crypto';
import { Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const TURN_SECRET = 'fw-e2e-turn-secret-0123456789';
const ROLLBACK_S = 20;
// Reaches the ruleset as a comment: it must stay one comment line (nft -c would refuse anything else).
const HOSTILE_WHY = 'peer "x" }\n flush ruleset; # $(id)';
const LISTEN_PORTS = [5000, 8123]; // 5000: opened by firewall_allow for the peer only; 8123: by nothing
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** From this machine: does a TCP connect to ip:port succeed within the time? */
function connects(ip: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.connect(port, ip);
  });
}

describe('firewall role: nftables from the roles the host plays, commit-confirmed', () => {
  let lab: LabFixture;
  let project: string;
  let ip: string;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', '--yes', '--json', ...args], { cwd: project });
  const playbook = (roles: string[][]) => writeFile(join(project, 'site.yml'), roles.map((r) => `- hosts: fw\n  roles: [${r.join(', ')}]\n`).join(''));
  /** TCP connects from the peer host to fwhost, port by port (python3 is in the lab's base). */
  const fromPeer = async (ports: number[]): Promise<Record<number, boolean>> => {
    const py = `import socket,sys\nfor p in sys.argv[1:]:\n  s=socket.socket(); s.settimeout(2)\n  print(p, s.connect_ex((${JSON.stringify(ip)}, int(p)))==0)\n`;
    const r = await lab.ssh('fwpeer', `python3 -c ${sq(py)} ${ports.join(' ')}`);
    expect(r.code, r.stderr).toBe(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [Number(l.split(' ')[0]), l.endsWith('True')]));
  };

  beforeAll(async () => {
    lab = await labHosts(['fwhost', 'fwpeer']);
    ip = lab.host('fwhost').ip;
    project = await projectDir('firewall');
    await lab.writeInventory(join(project, 'inventory', 'e2e'), {
      coturn_realm: lab.host('fwhost').fqdn,
      coturn_shared_secret: TURN_SECRET,
      coturn_synapse_fragment: false,
      coturn_allowed_peer_ips: ['10.231.0.0/24'],
      coturn_min_port: 49160,
      coturn_max_port: 49200,
      firewall_rollback_after: ROLLBACK_S,
      firewall_allow: [{ port: 5000, from: lab.host('fwpeer').ip, why: HOSTILE_WHY }],
    }, { fw: ['fwhost'] });
    // Two plays: the firewall of the second opens what the coturn role of the first serves.
    await playbook([['coturn'], ['firewall']]);
    await Promise.all([
      // Listeners no role declares, so that "closed" below is the firewall, not an empty port.
      ...LISTEN_PORTS.map((p) => lab.ssh('fwhost', `systemd-run --unit=fw-listen-${p} python3 -m http.server ${p}`)),
      // The TURN test client (turnutils_uclient) comes with the coturn package.
      lab.ssh('fwpeer', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q coturn >/dev/null && systemctl stop coturn'),
    ]);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('refuses a bad rule before connecting, naming host, role and key', async () => {
    const r = await run('-e', JSON.stringify({ firewall_extra_rules: ['tcp dport 22 drop\nflush ruleset'] }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fwhost/);
    expect(r.stderr).toMatch(/firewall/);
    expect(r.stderr).toMatch(/firewall_extra_rules/);
    expect(r.stderr).toMatch(/no line break/);
    const nothing = await lab.ssh('fwhost', 'test -e /etc/nftables.conf && echo present || echo absent; command -v nft || echo no-nft');
    expect(nothing.stdout.trim().split('\n')).toEqual(['absent', 'no-nft']);
  });

  it('with --tags firewall only, the ports of coturn (not selected) are opened all the same', async () => {
    const r = await run('-t', 'firewall');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const conf = (await lab.ssh('fwhost', 'cat /etc/nftables.conf')).stdout;
    expect(conf).toContain('udp dport 3478 accept');
    expect(conf).toContain('tcp dport 3478 accept');
    expect(conf).toContain('udp dport 49160-49200 accept');
    expect(conf).toContain(`ip saddr ${lab.host('fwpeer').ip} tcp dport 5000 accept`);
    // mxplay's own address, read on the host from the SSH session
    expect(conf).toContain('ip saddr 10.231.0.1 tcp dport 22 accept');
    // the hostile reason is one comment line
    expect(conf).toContain('# firewall_allow: peer "x" } flush ruleset; # $(id)');
    const state = await lab.ssh('fwhost', `systemctl is-enabled nftables; systemctl is-active mxplay-firewall-rollback.timer || true; dpkg -s coturn >/dev/null 2>&1 && echo coturn || echo no-coturn`);
    // confirmed: no rollback armed any more; coturn itself was not installed (not selected)
    expect(state.stdout.trim().split('\n')).toEqual(['enabled', 'inactive', 'no-coturn']);
  });

  it('converges coturn; from the peer only declared ports answer, and a TURN allocation relays through the firewall', async () => {
    const r = await run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // 8123 listens (the host reaches it itself): closed from outside is the firewall's doing.
    const local = await lab.ssh('fwhost', `python3 -c 'import socket; print(socket.create_connection(("127.0.0.1", 8123), 2) is not None)'`);
    expect(local.stdout.trim()).toBe('True');
    expect(await fromPeer([22, 3478, 5000, 8123])).toEqual({ 22: true, 3478: true, 5000: true, 8123: false });
    // firewall_allow's from: this machine is not the peer
    expect(await connects(ip, 5000)).toBe(false);
    expect(await connects(ip, 22)).toBe(true);

    // TURN REST credentials from the shared secret, as Synapse would hand them out.
    const user = `${Math.floor(Date.now() / 1000) + 3600}:fwpeer`;
    const pass = createHmac('sha1', TURN_SECRET).update(user).digest('base64');
    const turn = await lab.ssh('fwpeer', `timeout 60 turnutils_uclient -y -n 20 -m 2 -l 170 -p 3478 -u ${sq(user)} -w ${sq(pass)} ${ip} 2>&1; echo "exit=$?"`);
    expect(turn.stdout).toMatch(/exit=0\s*$/);
    const totals = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(turn.stdout);
    expect(totals, turn.stdout).not.toBeNull();
    expect(Number(totals![1])).toBeGreaterThan(0);
    expect(Number(totals![2])).toBe(Number(totals![1]));
  });

  it('what boot loads (nftables.service) is the same ruleset; a second run changes nothing', async () => {
    // As at boot: the table gone, then the enabled service loads /etc/nftables.conf.
    const boot = await lab.ssh('fwhost', 'nft delete table inet mxplay && systemctl restart nftables && nft list table inet mxplay >/dev/null && echo loaded');
    expect(boot.stdout.trim(), boot.stderr).toBe('loaded');
    const r = await run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    expect(changedOf(r, 'fwhost')).toBe(0);
  });

  it('a rule added by hand to the table is seen and the table loaded again', async () => {
    await lab.ssh('fwhost', 'nft add rule inet mxplay input tcp dport 8123 accept');
    expect((await fromPeer([8123]))[8123]).toBe(true);
    const r = await run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const changes = r.json!.hosts.find((h) => h.host === 'fwhost')!.changes;
    expect(changes.map((c) => [c.id, c.summary.split(';')[0]])).toEqual([['/etc/nftables.conf', 'table inet mxplay changed since mxplay loaded it: loaded again']]);
    expect((await fromPeer([8123]))[8123]).toBe(false);
  });

  it('coturn taken out of the playbook: its ports close on the next run (coturn still runs)', async () => {
    await playbook([['firewall']]);
    const r = await run();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.find((h) => h.host === 'fwhost')!.changes.map((c) => c.id)).toEqual(['/etc/nftables.conf']);
    expect((await lab.ssh('fwhost', 'systemctl is-active coturn')).stdout.trim()).toBe('active');
    expect(await fromPeer([22, 3478, 5000])).toEqual({ 22: true, 3478: false, 5000: true });
  });

  it('a rule that drops SSH fails the confirmation over a new connection, and the host undoes it by itself', async () => {
    const before = (await lab.ssh('fwhost', 'cat /etc/nftables.conf')).stdout;
    // As a user sees it: the text recap, not --json.
    const r = await mxplay(['run', 'site.yml', '-i', 'e2e', '--yes', '-e', JSON.stringify({ firewall_extra_rules: ['tcp dport 22 drop'] })], { cwd: project });
    const out = r.stdout + r.stderr;
    console.log(`the failed run, as shown:\n${out}`);
    expect(r.code).toBe(1);
    expect(out).toMatch(/fwhost\b.*failed=1/);
    expect(out).toMatch(/nftables \/etc\/nftables\.conf \(ruleset[,;].*\): a new connection through it failed after [\d.]+s: .*timed out/);
    expect(out).toContain(`restores its previous ruleset and /etc/nftables.conf by itself ${ROLLBACK_S}s after it was applied`);
    // Cut off now (new connections); the host's timer brings SSH back: poll with a deadline.
    const deadline = Date.now() + (ROLLBACK_S + 40) * 1000;
    while (!(await connects(ip, 22))) {
      if (Date.now() > deadline) throw new Error(`fwhost: SSH still closed ${ROLLBACK_S + 40}s after the bad ruleset`);
      await new Promise((f) => setTimeout(f, 500));
    }
    const after = await lab.ssh('fwhost', 'cat /etc/nftables.conf; systemctl is-active mxplay-firewall-rollback.timer || true');
    expect(after.stdout).toBe(`${before}inactive\n`);
    expect((await lab.ssh('fwhost', 'nft list table inet mxplay')).stdout).not.toContain('tcp dport 22 drop');
    // The host is back where it was: a normal run finds nothing to change.
    const again = await run();
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'fwhost')).toBe(0);
  });
});
