// Two homeservers made by ONE `mxplay run` of ONE inventory, federating over the lab network as a
// private federation would: acme.test (nginx, .well-known delegation to chat.acme.test:443, a real
// certificate from the lab CA) and beta.test (apache, federation on 8448, a certificate made on the
// host by the proxies' shared-CA mode with the same lab CA). Each host trusts the lab CA (role
// ca_trust), allows the lab network as an outbound target (synapse_ip_range_whitelist) and asks no
// notary (synapse_trusted_key_servers: []); certificates are verified as Synapse always does.
// Users meet through real clients (matrix-js-sdk) over HTTPS, trusting only the lab CA.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MatrixClient } from 'matrix-js-sdk';
import { Direction } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { issueCertificate, labCa, type LabCa } from '../lab/ca.ts';
import { loggedInClient } from './helpers/matrix-client.ts';
import { eventually } from './helpers/matrix.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';
import { projectDir } from './helpers/project.ts';

const MASTER = 'e2e-master-secret-federation-0123';
const ACME = 'fedacme';
const BETA = 'fedbeta';
const PASSWORD = { alice: 'alice-e2e-password-1', bob: 'bob-e2e-password-22' };
const LAB_NETWORK = '10.231.0.0/24'; // test/lab/config.ts SUBNET
/** Where the test's inline task puts acme's certificate from the lab CA. */
const ACME_TLS = { cert: '/etc/ssl/mxplay-e2e/chat.acme.test.crt', key: '/etc/ssl/mxplay-e2e/chat.acme.test.key' };

describe('federation between two lab homeservers (acme.test via .well-known on nginx, beta.test on 8448 via apache)', () => {
  let lab: LabFixture;
  let project: string;
  let ca: LabCa;
  const clients: MatrixClient[] = [];
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'fed', ...args], { cwd: project });
  const failed = (r: CliResult) => `exit ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`;
  const endpoint = (host: string, baseUrl: string) => ({ baseUrl, ip: lab.host(host).ip, ca: ca.certPem });
  let room = '';
  let acmeKeyPem = '';

  beforeAll(async () => {
    ca = await labCa();
    // Public-looking names for each host's address, in every lab host's /etc/hosts (no DNS here).
    lab = await labHosts([ACME, BETA], { aliases: { [ACME]: ['acme.test', 'chat.acme.test'], [BETA]: ['beta.test'] } });
    project = await projectDir('federation');
    const inv = join(project, 'inventory', 'fed');
    await lab.writeInventory(inv, {
      mxplay_master_secret: MASTER,
      synapse_package_source: 'debian',
      // What a private federation needs of each server (docs/federation.md).
      ca_trust_certificates: { 'mxplay-lab': ca.certPem },
      synapse_ip_range_whitelist: [LAB_NETWORK],
      synapse_trusted_key_servers: [],
      // Every request of this test comes from one address (the control machine).
      synapse_rc_login: { address: { per_second: 10, burst_count: 100 }, account: { per_second: 10, burst_count: 100 } },
      synapse_rc_message: { per_second: 10, burst_count: 100 },
      synapse_rc_room_creation: { per_second: 1, burst_count: 20 },
      synapse_rc_joins: { local: { per_second: 1, burst_count: 20 }, remote: { per_second: 1, burst_count: 20 } },
    }, { matrix: [ACME, BETA], nginx: [ACME], apache: [BETA] });
    await mkdir(join(inv, 'host_vars'));
    const acmeCert = await issueCertificate(['chat.acme.test', 'acme.test']);
    acmeKeyPem = acmeCert.keyPem;
    await writeFile(join(inv, 'host_vars', `${ACME}.yml`), stringify({
      synapse_server_name: 'acme.test',
      synapse_public_baseurl: 'https://chat.acme.test/',
      synapse_admin_user: 'alice',
      synapse_admin_password: PASSWORD.alice,
      proxy_serve_base_domain: true, // https://acme.test/.well-known/matrix/server -> chat.acme.test:443
      proxy_tls_certificate: ACME_TLS.cert,
      proxy_tls_certificate_key: ACME_TLS.key,
    }));
    await writeFile(join(inv, 'host_vars', `${BETA}.yml`), stringify({
      synapse_server_name: 'beta.test',
      synapse_public_baseurl: 'https://beta.test/',
      synapse_admin_user: 'bob',
      synapse_admin_password: PASSWORD.bob,
      proxy_federation_port: 8448,
      // The proxies' self-signed mode, its certificate signed by the inventory's CA (the lab CA).
      proxy_tls_self_signed: true,
      proxy_tls_ca_certificate: ca.certPem,
      proxy_tls_ca_key: await readFile(ca.keyFile, 'utf8'),
    }));
    await writeFile(join(project, 'site.yml'), stringify([
      { name: 'Trust the lab CA', hosts: 'all', roles: ['ca_trust'] },
      {
        name: "acme's certificate from the lab CA",
        hosts: 'nginx',
        tasks: [
          { directory: { path: '/etc/ssl/mxplay-e2e', mode: '0755' } },
          { file: { path: ACME_TLS.cert, content: acmeCert.certPem, mode: '0644' } },
          { file: { path: ACME_TLS.key, content: acmeCert.keyPem, mode: '0600', sensitive: true } },
        ],
      },
      { name: 'Matrix homeserver', hosts: 'matrix', roles: ['postgres', 'synapse'] },
      { name: 'Reverse proxy (nginx)', hosts: 'nginx', roles: ['nginx'] },
      { name: 'Reverse proxy (apache)', hosts: 'apache', roles: ['apache'] },
    ]));
  });

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await lab?.stop();
  });

  it('the servers\' names resolve on both lab hosts, as DNS would give them', async () => {
    for (const h of [ACME, BETA]) {
      const names = await lab.ssh(h, "for n in acme.test chat.acme.test beta.test; do echo \"$n $(getent hosts $n | awk '{print $1}')\"; done");
      expect(names.stdout.trim().split('\n'), h).toEqual([`acme.test ${lab.host(ACME).ip}`, `chat.acme.test ${lab.host(ACME).ip}`, `beta.test ${lab.host(BETA).ip}`]);
    }
  });

  it('one run of one inventory deploys both homeservers with their proxies, certificates and trust', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, failed(r)).toBe(0);
    for (const h of [ACME, BETA]) expect(changedOf(r, h)).toBeGreaterThan(20);
    // The CA's key (a secret var) and acme's key (a sensitive file) never appear in the output.
    const keyLines = [await readFile(ca.keyFile, 'utf8'), acmeKeyPem].join('\n').split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l));
    expect(keyLines.length).toBeGreaterThan(2);
    for (const l of keyLines) expect(r.stdout + r.stderr).not.toContain(l);
    // The lab CA in the hosts' own trust store, as update-ca-certificates puts it there.
    for (const h of [ACME, BETA]) {
      const s = await lab.ssh(h, 'ls /etc/ssl/certs/ | grep -c "^mxplay-lab.pem$"; stat -c %a /etc/ssl/mxplay-selfsigned/shared-ca-*.key 2>/dev/null || true');
      expect(s.stdout.split('\n')[0], `${h}: ${s.stdout}${s.stderr}`).toBe('1');
      if (h === BETA) expect(s.stdout.split('\n')[1]).toBe('600');
    }
  });

  it('each server finds the other through its delegation, from the other host, over TLS trusting the lab CA', async () => {
    // As a federation tester would: .well-known on the server name, then the named host:port.
    const cases = [
      { from: BETA, server: 'acme.test', delegated: 'chat.acme.test:443' },
      { from: ACME, server: 'beta.test', delegated: 'beta.test:8448' },
    ];
    for (const c of cases) {
      // curl on the host uses the host's trust store only: no --cacert, no -k.
      const wk = await lab.ssh(c.from, `curl -sS --max-time 20 https://${c.server}/.well-known/matrix/server`);
      expect(wk.code, wk.stderr).toBe(0);
      const delegated = (JSON.parse(wk.stdout) as { 'm.server': string })['m.server'];
      expect(delegated).toBe(c.delegated);
      const keys = await lab.ssh(c.from, `curl -sS --max-time 20 https://${delegated}/_matrix/key/v2/server`);
      expect(keys.code, keys.stderr).toBe(0);
      const k = JSON.parse(keys.stdout) as { server_name: string; verify_keys: Record<string, unknown> };
      expect(k.server_name).toBe(c.server);
      expect(Object.keys(k.verify_keys).length).toBeGreaterThan(0);
      const version = await lab.ssh(c.from, `curl -sS --max-time 20 https://${delegated}/_matrix/federation/v1/version`);
      expect(version.code, version.stderr).toBe(0);
      expect(JSON.parse(version.stdout).server.name).toBe('Synapse');
    }
  });

  it('@alice:acme.test invites @bob:beta.test, bob joins over federation, and each receives the other\'s message', async () => {
    const alice = await loggedInClient(endpoint(ACME, 'https://chat.acme.test'), 'alice', PASSWORD.alice);
    const bob = await loggedInClient(endpoint(BETA, 'https://beta.test'), 'bob', PASSWORD.bob);
    clients.push(alice, bob);
    expect(alice.getUserId()).toBe('@alice:acme.test');
    expect(bob.getUserId()).toBe('@bob:beta.test');

    const created = await alice.createRoom({ name: 'acme and beta', invite: ['@bob:beta.test'] });
    room = created.room_id;
    expect(room).toMatch(/^!.+:acme\.test$/);
    // The invite crosses to beta (acme -> beta.test:8448); the join goes back (beta -> chat.acme.test:443).
    await eventually(() => bob.joinRoom(room), 120_000, 2000);

    const texts = async (c: MatrixClient) =>
      (await c.createMessagesRequest(room, null, 50, Direction.Backward)).chunk
        .filter((e) => e.type === 'm.room.message')
        .map((e) => `${e.sender}: ${(e.content as { body?: string }).body}`);
    await alice.sendTextMessage(room, 'hello from acme');
    await eventually(async () => expect(await texts(bob)).toContain('@alice:acme.test: hello from acme'), 120_000, 1000);
    await bob.sendTextMessage(room, 'hello from beta');
    await eventually(async () => expect(await texts(alice)).toContain('@bob:beta.test: hello from beta'), 120_000, 1000);
  });

  it("Synapse starts without its key server warnings (no notary configured, none of matrix.org's)", async () => {
    for (const h of [ACME, BETA]) {
      // Written while Synapse reads its config, before its logging is set up: the journal has them.
      const log = await lab.ssh(h, [
        'test -s /var/log/matrix-synapse/homeserver.log && echo synapse-logged',
        "{ journalctl -u matrix-synapse --no-pager; cat /var/log/matrix-synapse/homeserver.log; } 2>/dev/null | grep -c -e 'does not have a trusted key server configured' -e \"to use 'matrix.org' as its trusted key server\" || true",
      ].join('\n'));
      expect(log.stdout.trim().split('\n'), h).toEqual(['synapse-logged', '0']);
    }
  });

  it('a second run reports 0 changed on every host', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, failed(r)).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes.map((c) => `${p.host} ${c.action} ${c.id}`))).toEqual([]);
    for (const h of [ACME, BETA]) expect(changedOf(r, h)).toBe(0);
  });
});
