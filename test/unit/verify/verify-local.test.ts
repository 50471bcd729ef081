// mxplay verify's runner against a real TLS server on this machine (a loopback address standing
// for a host): names pinned to the host's address, a private CA trusted, delegation followed,
// a password login, and the words it uses when something is wrong.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostCheck } from '../../../src/verify/check.ts';
import { expectClientVersions, expectWellKnownServer } from '../../../src/verify/expect.ts';
import { describeStunAnswer } from '../../../src/verify/stun.ts';
import { servedNames, verifyTargets, type VerifyTarget } from '../../../src/verify/run.ts';
import { verifyTable } from '../../../src/verify/table.ts';
import { tempDir } from '../helpers.ts';

const ADDRESS = '127.0.0.77';
const PASSWORD = `p'w"$(id)\`x\n`;

function makeCa(dir: string) {
  const openssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=verify test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=matrix.verify.test', '-keyout', 'srv.key', '-out', 'srv.csr');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:matrix.verify.test,DNS:verify.test\n');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '7', '-days', '2', '-extfile', 'ext', '-out', 'srv.crt');
}

describe('mxplay verify against a TLS server on this machine', () => {
  let dir: string;
  let server: Server;
  let mServer = 'matrix.verify.test:443';

  beforeAll(async () => {
    // tempDir cleans up after each test; this one lives for the file.
    dir = execFileSync('mktemp', ['-d', '/tmp/mxp-verify-XXXXXX']).toString().trim();
    makeCa(dir);
    server = createServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.crt')) }, (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const send = (status: number, data: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
          res.end(JSON.stringify(data));
        };
        const host = req.headers.host;
        if (req.url === '/.well-known/matrix/server' && host === 'verify.test') return send(200, { 'm.server': mServer });
        if (req.url === '/_matrix/client/versions') return send(200, { versions: ['v1.11', 'v1.12'] });
        if (req.url === '/_matrix/federation/v1/version' && host === 'matrix.verify.test') return send(200, { server: { name: 'Synapse', version: '1.160.0' } });
        if (req.url === '/_matrix/key/v2/server') return send(200, { server_name: 'verify.test', verify_keys: { 'ed25519:a_AbCd': { key: 'x' } } });
        if (req.url === '/_matrix/client/v3/login') {
          const b = JSON.parse(body);
          return b.identifier?.user === 'alice' && b.password === PASSWORD
            ? send(200, { access_token: 'tok', user_id: '@alice:verify.test' })
            : send(403, { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
        }
        if (req.url === '/_matrix/client/v3/logout' && req.headers.authorization === 'Bearer tok') return send(200, {});
        send(404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(443, ADDRESS, resolve));
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    execFileSync('rm', ['-rf', dir]);
  });

  const checks: HostCheck[] = [
    { role: 'nginx', selected: true, what: 'client API', probe: { kind: 'http', url: 'https://matrix.verify.test/_matrix/client/versions', expect: expectClientVersions } },
    { role: 'nginx', selected: true, what: 'delegation', probe: { kind: 'http', url: 'https://verify.test/.well-known/matrix/server', expect: expectWellKnownServer('matrix.verify.test:443') } },
    { role: 'nginx', selected: true, what: 'federation', probe: { kind: 'federation', serverName: 'verify.test' } },
    { role: 'synapse_ldap', selected: true, what: 'login', probe: { kind: 'login', baseUrl: 'https://matrix.verify.test/', user: 'alice', password: PASSWORD } },
  ];
  const target = (o: Partial<VerifyTarget> = {}): VerifyTarget => ({ host: 'h1', address: ADDRESS, resolve: 'inventory', caFile: join(dir, 'ca.crt'), checks, ...o });

  it('names the host serves go to its address; with its CA trusted every check passes', async () => {
    const r = await verifyTargets([target()]);
    expect(r.map((x) => [x.what, x.ok, x.detail])).toEqual([
      ['client API', true, '200, spec versions v1.11 … v1.12'],
      ['delegation', true, '200, m.server matrix.verify.test:443'],
      ['federation', true, '.well-known → matrix.verify.test:443: Synapse 1.160.0, key ed25519:a_AbCd'],
      ['login', true, 'logged in as @alice:verify.test (and out)'],
    ]);
    expect(verifyTable(r)).toMatch(/^h1\n {2}OK {6}client API {2}https:\/\/matrix\.verify\.test\/_matrix\/client\/versions {2}200, spec versions v1\.11 … v1\.12\n/);
    expect(verifyTable(r)).toMatch(/\n\n4 checks passed on 1 host\.\n$/);
  });

  it('a delegation elsewhere, a wrong password and an untrusted CA each say what broke', async () => {
    mServer = 'matrix.verify.test:8448';
    try {
      const wrong = await verifyTargets([target({ checks: [checks[0]!, checks[1]!, checks[2]!, { ...checks[3]!, probe: { ...(checks[3]!.probe as any), password: 'nope' } }] })]);
      expect(wrong.map((x) => [x.ok, x.detail])).toEqual([
        [true, '200, spec versions v1.11 … v1.12'],
        [false, 'm.server is "matrix.verify.test:8448", wanted matrix.verify.test:443'],
        [false, `.well-known → matrix.verify.test:8448: https://matrix.verify.test:8448/_matrix/federation/v1/version: connection refused at ${ADDRESS} (matrix.verify.test:8448): nothing listens there`],
        [false, 'login as alice refused: HTTP 403, M_FORBIDDEN: Invalid username or password'],
      ]);
    } finally {
      mServer = 'matrix.verify.test:443';
    }
    const untrusted = await verifyTargets([target({ caFile: undefined as unknown as string, checks: [checks[0]!] })].map(({ caFile: _, ...t }) => t));
    expect(untrusted[0]!.detail).toMatch(/^TLS: matrix\.verify\.test's certificate is not signed by a trusted CA \(\w+\); a private or lab CA: set mxplay_verify_ca_file$/);
  });

  it('a check left out by tags is not asked, but still says where its name is served', async () => {
    const r = await verifyTargets([target({ checks: [{ ...checks[0]!, selected: false }, checks[3]!] })]);
    expect(r.map((x) => [x.what, x.ok, x.detail])).toEqual([['login', true, 'logged in as @alice:verify.test (and out)']]);
  });

  it('resolving by DNS, a name with no record says how to check before it is published', async () => {
    const [r] = await verifyTargets([target({ resolve: 'dns', checks: [checks[0]!] })]);
    expect(r!.ok).toBe(false);
    expect(r!.detail).toMatch(/^matrix\.verify\.test does not resolve on this machine \(DNS \w+\); to check the hosts before the name is published, set mxplay_verify_resolve: inventory$/);
  });

  it('an unreadable CA file is an input error naming the host and the key', async () => {
    await expect(verifyTargets([target({ caFile: join(dir, 'missing.crt') })])).rejects.toThrow(/mxplay_verify_ca_file: cannot read .*missing\.crt: ENOENT/);
  });

  it('a closed TCP port, and the first host to serve a name is where the name goes', async () => {
    const [r] = await verifyTargets([target({ checks: [{ role: 'redis', selected: true, what: 'redis', probe: { kind: 'tcp', port: 1 } }] })]);
    expect(r!.detail).toBe(`connection refused at ${ADDRESS}:1: nothing listens there`);
    const served = servedNames([target(), target({ host: 'h2', address: '10.0.0.2' })]);
    expect(Object.fromEntries(served)).toEqual({ 'matrix.verify.test': ADDRESS, 'verify.test': ADDRESS });
  });
});

describe('a STUN Binding answer', () => {
  const answer = (type: number, attrs: Buffer) => {
    const head = Buffer.alloc(20);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(attrs.length, 2);
    head.writeUInt32BE(0x2112a442, 4);
    return Buffer.concat([head, attrs]);
  };
  it.each([
    { name: 'XOR-MAPPED-ADDRESS read', type: 0x0101, attrs: Buffer.from([0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x21 ^ 0x30, 0x12 ^ 0x39, 0x21 ^ 10, 0x12 ^ 231, 0xa4 ^ 0, 0x42 ^ 1]), want: 'Binding answered: it sees this machine as 10.231.0.1:12345' },
    { name: 'no address attribute', type: 0x0101, attrs: Buffer.alloc(0), want: 'Binding answered' },
    { name: 'an error response', type: 0x0111, attrs: Buffer.alloc(0), err: 'STUN answer of type 0x111, wanted a Binding success (0x0101)' },
  ])('$name', ({ type, attrs, want, err }) => {
    if (err) expect(() => describeStunAnswer(answer(type, attrs))).toThrow(err);
    else expect(describeStunAnswer(answer(type, attrs))).toBe(want);
  });
});
