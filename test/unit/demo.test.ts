// `npm start` (scripts/demo.ts): its pure parts. Which checks an inventory and a playbook call
// for, what each check accepts, the table and the next steps it prints. The run itself on the lab
// is not a CI test (minutes); it is run by hand.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  caOf,
  curlArgv,
  describeStunAnswer,
  expectAdminApp,
  expectClientVersions,
  expectRedirect,
  expectServerVersion,
  expectWellKnownClient,
  expectWellKnownServer,
  formatTable,
  hostViews,
  labHostCount,
  matchHosts,
  needsBuild,
  nextSteps,
  parseCurlOutput,
  parsePlays,
  planChecks,
  snippet,
  wellKnownHost,
  type CheckResult,
  type HttpAnswer,
  type InventoryJson,
} from '../../scripts/demo.ts';

const site = parsePlays(readFileSync(new URL('../../playbooks/site.yml', import.meta.url), 'utf8'));

/** inventory/lab as `mxplay inventory -i lab --json` prints it (secrets masked). */
const LAB: InventoryJson = {
  lab1: {
    groups: ['all', 'matrix', 'nginx'],
    vars: {
      ansible_user: 'root',
      ansible_ssh_private_key_file: '/var/lib/mxplay-lab/id_ed25519',
      mxplay_known_hosts_file: '/var/lib/mxplay-lab/known_hosts',
      proxy_tls_self_signed: true,
      ansible_host: '10.231.0.11',
      synapse_server_name: 'lab1.lab.test',
      synapse_public_baseurl: 'https://lab1.lab.test/',
    },
  },
  lab2: { groups: ['all', 'ungrouped'], vars: { ansible_user: 'root', ansible_host: '10.231.0.12' } },
  lab3: { groups: ['all', 'ungrouped'], vars: { ansible_user: 'root', ansible_host: '10.231.0.13' } },
};

const answer = (status: number, body: unknown, headers: Record<string, string> = {}): HttpAnswer => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: text, ...(typeof body === 'string' ? {} : { json: body }) };
};

describe('what the lab gets', () => {
  it('gives lab1 the roles of site.yml its groups name, and lab2, lab3 none', () => {
    const hosts = hostViews(LAB, site);
    expect(hosts.map((h) => [h.name, h.ip, h.roles])).toEqual([
      ['lab1', '10.231.0.11', ['postgres', 'synapse', 'nginx']],
      ['lab2', '10.231.0.12', []],
      ['lab3', '10.231.0.13', []],
    ]);
    expect(labHostCount(hosts)).toBe(3);
  });

  it('reads host patterns as the CLI does: groups, hosts, all, unions, exclusions, intersections', () => {
    expect(matchHosts('all', LAB)).toEqual(['lab1', 'lab2', 'lab3']);
    expect(matchHosts('matrix', LAB)).toEqual(['lab1']);
    expect(matchHosts('lab2:lab3', LAB)).toEqual(['lab2', 'lab3']);
    expect(matchHosts('all:!ungrouped', LAB)).toEqual(['lab1']);
    expect(matchHosts('all:&nginx', LAB)).toEqual(['lab1']);
    expect(matchHosts('database', LAB)).toEqual([]);
  });

  it('refuses an inventory the lab cannot start: a host not named labN, or at another address', () => {
    expect(() => labHostCount([{ name: 'web1', ip: '10.231.0.11' }])).toThrow(/web1 is not a lab host/);
    expect(() => labHostCount([{ name: 'lab2', ip: '10.231.0.99' }])).toThrow(/lab2 has ansible_host 10.231.0.99, but the lab starts it at 10.231.0.12/);
    expect(labHostCount([{ name: 'lab2', ip: '10.231.0.12' }])).toBe(2);
  });
});

describe('the check list', () => {
  it('for the lab: SSH on every host, then the client API, federation, .well-known and the redirect through nginx', () => {
    const checks = planChecks(hostViews(LAB, site));
    expect(checks.map((c) => [c.host, c.what, c.where])).toEqual([
      ['lab1', 'SSH login, host key checked', 'root@10.231.0.11:22'],
      ['lab1', 'Matrix client API: Synapse via nginx', 'https://lab1.lab.test/_matrix/client/versions'],
      ['lab1', 'federation API: Synapse via nginx', 'https://lab1.lab.test/_matrix/federation/v1/version'],
      ['lab1', 'delegation: /.well-known/matrix/server', 'https://lab1.lab.test/.well-known/matrix/server'],
      ['lab1', 'client discovery: /.well-known/matrix/client', 'https://lab1.lab.test/.well-known/matrix/client'],
      ['lab1', 'plain http redirects to https', 'http://lab1.lab.test/_matrix/client/versions'],
      ['lab2', 'SSH login, host key checked', 'root@10.231.0.12:22'],
      ['lab3', 'SSH login, host key checked', 'root@10.231.0.13:22'],
    ]);
    const https = checks[1]!.probe;
    expect(https).toMatchObject({ kind: 'http', ip: '10.231.0.11', ca: '/var/lib/mxplay-lab/hosts/lab1/root/etc/ssl/mxplay-selfsigned/ca.crt' });
    expect(checks[0]!.probe).toEqual({
      kind: 'ssh', ip: '10.231.0.11', user: 'root', key: '/var/lib/mxplay-lab/id_ed25519', knownHosts: '/var/lib/mxplay-lab/known_hosts',
    });
  });

  it('grows with the inventory: Element web, synapse-admin, coturn, an 8448 federation port, Apache, Postgres and Redis for other hosts', () => {
    const inv: InventoryJson = {
      lab1: {
        groups: ['all', 'matrix', 'apache', 'element_web', 'synapse_admin', 'coturn'],
        vars: {
          ansible_host: '10.231.0.11',
          synapse_server_name: 'example.test',
          synapse_public_baseurl: 'https://matrix.example.test/',
          proxy_federation_port: 8448,
          element_domain: 'element.example.test',
          synapse_admin_domain: 'admin.example.test',
          coturn_listening_port: 3479,
        },
      },
      lab2: { groups: ['all', 'database', 'redis'], vars: { ansible_host: '10.231.0.12', postgres_listen_addresses: '*', redis_bind_addresses: ['10.231.0.12'] } },
    };
    const plays = [...site, { name: 'TURN', hosts: 'coturn', roles: ['coturn'] }];
    const checks = planChecks(hostViews(inv, plays));
    expect(checks.map((c) => `${c.host} ${c.what} ${c.where}`)).toEqual([
      'lab1 SSH login, host key checked root@10.231.0.11:22',
      'lab1 Matrix client API: Synapse via apache https://matrix.example.test/_matrix/client/versions',
      'lab1 federation API: Synapse via apache https://matrix.example.test:8448/_matrix/federation/v1/version',
      // the base domain is another name and not served here: the documents on the Matrix host
      'lab1 delegation: /.well-known/matrix/server https://matrix.example.test/.well-known/matrix/server',
      'lab1 client discovery: /.well-known/matrix/client https://matrix.example.test/.well-known/matrix/client',
      'lab1 plain http redirects to https http://matrix.example.test/_matrix/client/versions',
      'lab1 Element web: its config.json https://element.example.test/config.json',
      'lab1 synapse-admin https://admin.example.test/',
      'lab1 TURN server: STUN binding 10.231.0.11:3479/udp',
      'lab2 SSH login, host key checked root@10.231.0.12:22',
      'lab2 PostgreSQL (TCP, for other hosts) 10.231.0.12:5432',
      'lab2 Redis (TCP, for other hosts) 10.231.0.12:6379',
    ]);
    // not self-signed: the system's CAs
    expect(checks[1]!.probe).not.toHaveProperty('ca');
  });

  it('serves .well-known on the base domain when the proxy serves it', () => {
    const h = hostViews(LAB, site)[0]!;
    expect(wellKnownHost({ ...h, vars: { ...h.vars, synapse_public_baseurl: 'https://matrix.lab1.lab.test/' } })).toBe('matrix.lab1.lab.test');
    expect(wellKnownHost({ ...h, vars: { ...h.vars, synapse_public_baseurl: 'https://matrix.lab1.lab.test/', proxy_serve_base_domain: true } })).toBe('lab1.lab.test');
    expect(caOf({ ...h, vars: {} })).toBeUndefined();
  });

  it('leaves out Postgres and Redis that listen on the host only (their defaults)', () => {
    const inv: InventoryJson = { lab1: { groups: ['all', 'database', 'redis'], vars: { ansible_host: '10.231.0.11' } } };
    expect(planChecks(hostViews(inv, site)).map((c) => c.what)).toEqual(['SSH login, host key checked']);
  });
});

describe('what each check accepts', () => {
  it('client versions, server version', () => {
    expect(expectClientVersions(answer(200, { versions: ['r0.0.1', 'v1.1', 'v1.12'] }))).toBe('200, spec versions r0.0.1 … v1.12');
    expect(() => expectClientVersions(answer(502, '<html><head><title>502 Bad Gateway</title></head><body>…</body></html>'))).toThrow(
      'HTTP 502, wanted 200: 502 Bad Gateway',
    );
    expect(() => expectClientVersions(answer(200, { nope: 1 }))).toThrow(/no "versions" list/);
    expect(expectServerVersion(answer(200, { server: { name: 'Synapse', version: '1.160.0' } }))).toBe('200, Synapse 1.160.0');
  });

  it('.well-known: JSON, with the right content type and values', () => {
    expect(expectWellKnownServer('lab1.lab.test:443')(answer(200, { 'm.server': 'lab1.lab.test:443' }))).toBe('200, m.server lab1.lab.test:443');
    expect(() => expectWellKnownServer('lab1.lab.test:443')(answer(200, { 'm.server': 'other:443' }))).toThrow(
      'm.server is "other:443", wanted lab1.lab.test:443',
    );
    expect(() => expectWellKnownServer('x:443')(answer(200, { 'm.server': 'x:443' }, { 'content-type': 'text/plain' }))).toThrow(
      'Content-Type text/plain, wanted application/json',
    );
    const client = expectWellKnownClient('https://lab1.lab.test');
    expect(client(answer(200, { 'm.homeserver': { base_url: 'https://lab1.lab.test' } }))).toBe('200, base_url https://lab1.lab.test');
    expect(() => client(answer(404, 'not here'))).toThrow('HTTP 404, wanted 200: not here');
  });

  it('the redirect, synapse-admin limited to its networks', () => {
    const r = expectRedirect('https://a.test/x');
    expect(r(answer(301, '', { location: 'https://a.test/x' }))).toBe('301 → https://a.test/x');
    expect(() => r(answer(200, 'hi'))).toThrow('HTTP 200, wanted a redirect (301)');
    expect(() => r(answer(301, '', { location: 'https://b.test/x' }))).toThrow('301 to https://b.test/x, wanted https://a.test/x');
    expect(expectAdminApp(answer(403, 'Forbidden'))).toMatch(/^403: this machine is not in synapse_admin_allow_networks/);
    expect(expectAdminApp(answer(200, '<html>'))).toBe('200');
  });

  it('reads curl -i output and a STUN Binding answer', () => {
    const a = parseCurlOutput('HTTP/2 200 \r\ncontent-type: application/json\r\nX-Thing: 1\r\n\r\n{"a":1}');
    expect(a).toEqual({ status: 200, headers: { 'content-type': 'application/json', 'x-thing': '1' }, body: '{"a":1}', json: { a: 1 } });
    expect(parseCurlOutput('HTTP/1.1 301 Moved Permanently\r\nLocation: https://x/\r\n\r\n<html>')).toMatchObject({ status: 301, headers: { location: 'https://x/' } });
    // Binding success, XOR-MAPPED-ADDRESS 10.231.0.1:40000
    const m = Buffer.alloc(32);
    m.writeUInt16BE(0x0101, 0);
    m.writeUInt16BE(12, 2);
    m.writeUInt32BE(0x2112a442, 4);
    m.writeUInt16BE(0x0020, 20);
    m.writeUInt16BE(8, 22);
    m[25] = 0x01;
    m.writeUInt16BE(40000 ^ 0x2112, 26);
    [10, 231, 0, 1].forEach((b, k) => (m[28 + k] = b ^ [0x21, 0x12, 0xa4, 0x42][k]!));
    expect(describeStunAnswer(m)).toBe('Binding answered: it sees this machine as 10.231.0.1:40000');
    m.writeUInt16BE(0x0111, 0);
    expect(() => describeStunAnswer(m)).toThrow(/type 0x111, wanted a Binding success/);
    expect(snippet(`${'word '.repeat(40)}`)).toHaveLength(70);
  });
});

describe('output', () => {
  const checks = planChecks(hostViews(LAB, site));
  const rows: CheckResult[] = checks.map((c, i) => ({ ...c, ok: i !== 1, detail: i === 1 ? 'HTTP 502, wanted 200: 502 Bad Gateway' : 'fine' }));

  it('a table of what answered where: aligned columns, the reason of a failure on its line', () => {
    const t = formatTable(rows.slice(0, 3), 200).split('\n');
    expect(t).toEqual([
      '        host  what                                  where                                                answer, or why not',
      'OK      lab1  SSH login, host key checked           root@10.231.0.11:22                                  fine',
      'FAILED  lab1  Matrix client API: Synapse via nginx  https://lab1.lab.test/_matrix/client/versions        HTTP 502, wanted 200: 502 Bad Gateway',
      'OK      lab1  federation API: Synapse via nginx     https://lab1.lab.test/_matrix/federation/v1/version  fine',
    ]);
  });

  it('puts a detail that does not fit the width on a line of its own', () => {
    const t = formatTable(rows.slice(1, 2), 80).split('\n');
    expect(t[1]).toBe('FAILED  lab1  Matrix client API: Synapse via nginx  https://lab1.lab.test/_matrix/client/versions');
    expect(t[2]).toBe('        → HTTP 502, wanted 200: 502 Bad Gateway');
  });

  it('tells how to look (the curl lines the checks ran, an ssh line), re-run and tear down', () => {
    const text = nextSteps(checks);
    const ca = '/var/lib/mxplay-lab/hosts/lab1/root/etc/ssl/mxplay-selfsigned/ca.crt';
    expect(text).toContain(`  curl --cacert ${ca} --resolve lab1.lab.test:443:10.231.0.11 https://lab1.lab.test/_matrix/client/versions\n`);
    expect(text).toContain(`  curl --cacert ${ca} --resolve lab1.lab.test:443:10.231.0.11 https://lab1.lab.test/.well-known/matrix/client\n`);
    expect(text).toContain('  ssh -F /dev/null -i /var/lib/mxplay-lab/id_ed25519 -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/mxplay-lab/known_hosts root@10.231.0.11\n');
    expect(text).toContain('  npx mxplay run site.yml -i lab\n');
    expect(text.endsWith('  npm run lab -- down')).toBe(true);
    const p = checks[5]!.probe;
    expect(p.kind === 'http' && curlArgv(p)).toEqual(['curl', '--resolve', 'lab1.lab.test:80:10.231.0.11', 'http://lab1.lab.test/_matrix/client/versions']);
  });
});

describe('needsBuild', () => {
  it('builds when dist/ is missing or older than a source, not otherwise', () => {
    expect(needsBuild(undefined, { path: 'src/a.ts', mtimeMs: 1 })).toBe('dist/ is missing');
    expect(needsBuild(100, { path: 'src/a.ts', mtimeMs: 200 })).toBe('dist/ is older than src/a.ts');
    expect(needsBuild(200, { path: 'src/a.ts', mtimeMs: 100 })).toBeUndefined();
    expect(needsBuild(200, undefined)).toBeUndefined();
  });
});
