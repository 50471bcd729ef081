// A private CA on hosts: role ca_trust (the host's trust store) and the proxies' shared-CA
// self-signed mode (one CA signs every host's certificate). Built with the real engine from an
// inventory; certificates made by openssl in a temp folder, no hosts contacted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import type { HostWork } from '../../../src/engine/work.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
let dir: string;
/** Two CAs and a server certificate (not a CA), made once for the file. */
const pem: Record<'ca1' | 'ca1Key' | 'ca2' | 'ca2Key' | 'leaf', string> = { ca1: '', ca1Key: '', ca2: '', ca2Key: '', leaf: '' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mxp-unit-ca-'));
  const f = (n: string) => join(dir, n);
  for (const n of ['ca1', 'ca2']) {
    execFileSync('openssl', ['req', '-x509', ...EC, '-days', '30', '-subj', `/CN=unit ${n}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', f(`${n}.key`), '-out', f(`${n}.crt`)], { stdio: 'ignore' });
  }
  execFileSync('openssl', ['req', '-x509', ...EC, '-days', '30', '-subj', '/CN=leaf', '-addext', 'basicConstraints=critical,CA:FALSE', '-keyout', f('leaf.key'), '-out', f('leaf.crt')], { stdio: 'ignore' });
  Object.assign(pem, {
    ca1: readFileSync(f('ca1.crt'), 'utf8'), ca1Key: readFileSync(f('ca1.key'), 'utf8'),
    ca2: readFileSync(f('ca2.crt'), 'utf8'), ca2Key: readFileSync(f('ca2.key'), 'utf8'),
    leaf: readFileSync(f('leaf.crt'), 'utf8'),
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROXY = {
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  proxy_tls_self_signed: true,
};

async function build(role: string, vars: Record<string, unknown>) {
  const cwd = writeTree(tempDir(), {
    'site.yml': `- hosts: all\n  roles: [${role}]\n`,
    'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: unit-master-secret-0123 }\n  hosts:\n    m1: ${JSON.stringify(vars)}\n`,
  });
  const secrets = new SecretRegistry();
  const work = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets });
  return { work, secrets };
}

async function errors(role: string, vars: Record<string, unknown>): Promise<string[]> {
  return userErrorsOf(build(role, vars));
}

const resources = (work: HostWork[]) => work[0]!.plays[0]!.items.map((i) => i.resource);
const handlers = (work: HostWork[]) => [...work[0]!.plays[0]!.handlers.entries()];
const planNone = (r: { plan: (s: never) => unknown }) => r.plan({ kind: 'none' } as never) as { script?: string; diff?: { after?: string | null; hidden?: boolean } } | null;

describe('role ca_trust: CA certificates in the trust store', () => {
  it('writes each certificate as the parsed PEM, under names the role owns, and updates the trust on change', async () => {
    const messy = `\n\n${pem.ca1.replace(/\n/g, '\r\n')}   \n`;
    const { work } = await build('ca_trust', { ca_trust_certificates: { 'lab-ca': messy, other_ca: pem.ca2 } });
    const files = resources(work).filter((r) => r.type === 'file');
    expect(files.map((r) => r.id)).toEqual(['/usr/local/share/ca-certificates/mxplay/lab-ca.crt', '/usr/local/share/ca-certificates/mxplay/other_ca.crt']);
    expect(planNone(files[0]!)!.diff!.after).toBe(`${pem.ca1.trim()}\n`);
    for (const f of files) expect(f.notify).toEqual(['update CA trust']);
    const [[name, handler]] = handlers(work) as unknown as [[string, { plan: (s: never) => unknown }]];
    expect(name).toBe('update CA trust');
    const script = (handler.plan({ done: false } as never) as { script: string }).script;
    expect(script).toMatch(/^update-ca-certificates\n/);
    // Only the active units: a unit name systemctl does not know would fail the handler.
    expect(script).toContain("systemctl list-units --plain --no-legend --state=active 'matrix-synapse.service' 'matrix-synapse-worker@*.service'");
    expect(script).toContain('if [ -n "$units" ]; then systemctl restart $units; fi');
    expect(script).toContain('until curl -s -o /dev/null http://127.0.0.1:8008/health; do');
  });

  it.each<[string, string[], string[] | null]>([
    ['nothing retired when every file on the host is declared', ['lab-ca'], null],
    ['a certificate no longer declared is removed, and the trust updated', ['lab-ca', 'old-ca', 'older'], ['old-ca', 'older']],
    ['files the role never writes (other names) are left alone', ['lab-ca', 'Not Ours'], null],
  ])('%s', async (_what, onHost, removed) => {
    const { work } = await build('ca_trust', { ca_trust_certificates: { 'lab-ca': pem.ca1 } });
    const retire = resources(work).find((r) => r.type === 'ca-certificates')!;
    expect(retire.notify).toEqual(['update CA trust']);
    const plan = retire.plan({ names: onHost.filter((n) => /^[a-z0-9][a-z0-9_-]*$/.test(n)) } as never) as { script: string } | null;
    if (removed === null) return expect(plan).toBeNull();
    expect(plan!.script).toBe(removed.map((n) => `rm -f /usr/local/share/ca-certificates/mxplay/${n}.crt`).join('\n'));
  });

  it.each<[string, () => Record<string, unknown>, RegExp]>([
    ['a private key', () => ({ lab: pem.ca1Key }), /ca_trust_certificates\.lab: holds a private key/],
    ['a certificate with its key appended', () => ({ lab: pem.ca1 + pem.ca1Key }), /ca_trust_certificates\.lab: holds a private key/],
    ['two certificates in one', () => ({ lab: pem.ca1 + pem.ca2 }), /ca_trust_certificates\.lab: one PEM certificate/],
    ['a server certificate', () => ({ lab: pem.leaf }), /ca_trust_certificates\.lab: not a CA certificate/],
    ['broken base64', () => ({ lab: pem.ca1.replace(/\n[A-Za-z0-9+/]{8}/, '\nAAAAAAAA') }), /ca_trust_certificates\.lab: not a readable X\.509/],
    ['shell and YAML in the text', () => ({ lab: `${pem.ca1}\n$(reboot)\n'": &a [x]` }), /ca_trust_certificates\.lab: one PEM certificate/],
    ['a name with a slash', () => ({ '../etc/passwd': pem.ca1 }), /ca_trust_certificates\.\.\.\/etc\/passwd: a name like lab-ca/],
    ['a name with a space and a newline', () => ({ 'a b\nc': pem.ca1 }), /a name like lab-ca/],
  ])('refuses %s, naming the key and never quoting it', async (_what, certs, msg) => {
    const value = certs();
    const errs = (await errors('ca_trust', { ca_trust_certificates: value })).join('\n');
    expect(errs).toMatch(/host m1, role ca_trust, key ca_trust_certificates: /);
    expect(errs).toMatch(msg);
    for (const line of Object.values(value).join('\n').split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) expect(errs).not.toContain(line);
  });
});

describe("the proxies' self-signed mode with a CA shared by all hosts", () => {
  const shared = () => ({ ...PROXY, proxy_tls_ca_certificate: pem.ca1, proxy_tls_ca_key: pem.ca1Key });

  it.each(['nginx', 'apache'])('%s: the CA files, 0600 key never shown, and a certificate named after names and CA', async (role) => {
    const { work, secrets } = await build(role, shared());
    const rs = resources(work);
    const caFiles = rs.filter((r) => r.type === 'file' && /shared-ca-[0-9a-f]{16}\.(crt|key)$/.test(r.id));
    expect(caFiles.map((r) => r.id.replace(/[0-9a-f]{16}/, 'FP'))).toEqual(['/etc/ssl/mxplay-selfsigned/shared-ca-FP.crt', '/etc/ssl/mxplay-selfsigned/shared-ca-FP.key']);
    const key = planNone(caFiles[1]!)!;
    expect(key.diff!.hidden).toBe(true);
    expect(key.script).toMatch(/^mxp_put \/etc\/ssl\/mxplay-selfsigned\/shared-ca-[0-9a-f]{16}\.key 0600 root root /);
    expect(planNone(caFiles[0]!)!.diff!.after).toBe(`${pem.ca1.trim()}\n`);
    // No CA of the host's own is made; the certificate is signed by the shared one.
    expect(rs.some((r) => r.id === 'self-signed CA /etc/ssl/mxplay-selfsigned/ca.crt')).toBe(false);
    const sign = rs.find((r) => r.id.startsWith('self-signed certificate '))!;
    expect(sign.id).toMatch(/^self-signed certificate \/etc\/ssl\/mxplay-selfsigned\/matrix\.example\.com\.ca-[0-9a-f]{16}\.crt$/);
    expect(planNone(sign)!.script).toContain(`-CA ${caFiles[0]!.id} -CAkey ${caFiles[1]!.id}`);
    // The key is a secret of the run: masked wherever it would be printed.
    expect(secrets.mask(`x ${pem.ca1Key} y`)).not.toMatch(/[A-Za-z0-9+/]{20,}/);
    // The server's config points at that certificate.
    const conf = rs.find((r) => r.id.endsWith('mxplay-matrix.conf'))!;
    expect(planNone(conf)!.diff!.after).toContain(sign.id.replace('self-signed certificate ', ''));
  });

  it('a new CA or a new name gives a new certificate; the same inputs the same one', async () => {
    const certOf = async (vars: Record<string, unknown>) => resources((await build('nginx', vars)).work).find((r) => r.id.startsWith('self-signed certificate '))!.id;
    const first = await certOf(shared());
    expect(await certOf(shared())).toBe(first);
    expect(await certOf({ ...shared(), proxy_tls_ca_certificate: pem.ca2, proxy_tls_ca_key: pem.ca2Key })).not.toBe(first);
    expect(await certOf({ ...shared(), proxy_serve_base_domain: true })).not.toBe(first);
  });

  it('without the shared CA, the per-host CA mode is what it was', async () => {
    const rs = resources((await build('nginx', PROXY)).work);
    expect(rs.some((r) => r.id === 'self-signed CA /etc/ssl/mxplay-selfsigned/ca.crt')).toBe(true);
    expect(rs.find((r) => r.id.startsWith('self-signed certificate '))!.id).toBe('self-signed certificate /etc/ssl/mxplay-selfsigned/matrix.example.com.crt');
  });

  it.each<[string, () => Record<string, unknown>, RegExp]>([
    ['a certificate without its key', () => ({ ...PROXY, proxy_tls_ca_certificate: pem.ca1 }), /key proxy_tls_ca_certificate: proxy_tls_ca_certificate: proxy_tls_ca_certificate needs proxy_tls_ca_key/],
    ['a key without its certificate', () => ({ ...PROXY, proxy_tls_ca_key: pem.ca1Key }), /key proxy_tls_ca_key: proxy_tls_ca_key: proxy_tls_ca_key needs proxy_tls_ca_certificate/],
    ['the key of another CA', () => ({ ...PROXY, proxy_tls_ca_certificate: pem.ca1, proxy_tls_ca_key: pem.ca2Key }), /key proxy_tls_ca_key: proxy_tls_ca_key: not the private key of that CA certificate/],
    ['a CA without the self-signed mode', () => ({ ...PROXY, proxy_tls_self_signed: false, proxy_tls_certificate: '/etc/ssl/c.pem', proxy_tls_certificate_key: '/etc/ssl/k.pem', proxy_tls_ca_certificate: pem.ca1, proxy_tls_ca_key: pem.ca1Key }), /key proxy_tls_ca_certificate: proxy_tls_ca_certificate: signs the certificate of proxy_tls_self_signed: true only/],
    ['a server certificate as the CA', () => ({ ...PROXY, proxy_tls_ca_certificate: pem.leaf, proxy_tls_ca_key: pem.ca1Key }), /key proxy_tls_ca_certificate: proxy_tls_ca_certificate: not a CA certificate/],
    ['a certificate as the key', () => ({ ...PROXY, proxy_tls_ca_certificate: pem.ca1, proxy_tls_ca_key: pem.ca1 }), /key proxy_tls_ca_key: proxy_tls_ca_key: an unencrypted PEM private key/],
    ['a key with shell and YAML around it', () => ({ ...PROXY, proxy_tls_ca_certificate: pem.ca1, proxy_tls_ca_key: `$(reboot)\n${pem.ca1Key}'": &a [x]` }), /key proxy_tls_ca_key: proxy_tls_ca_key: an unencrypted PEM private key/],
  ])('refuses %s, naming the key, and no error shows key material', async (_what, vars, msg) => {
    const v = vars();
    const errs = (await errors('nginx', v)).join('\n');
    expect(errs).toMatch(msg);
    const keyLines = String(v.proxy_tls_ca_key ?? '').split('\n').filter((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l));
    for (const l of keyLines) expect(errs).not.toContain(l);
  });
});
