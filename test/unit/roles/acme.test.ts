// proxy_acme of the nginx and apache roles: the variable's shape and its refusals (through the
// real engine, from an inventory, so errors name host, role and key), the tasks it plans, and the
// shell it runs: certbot's command line with hostile values, the "already issued" check and the
// deploy hook, run by /bin/sh against real openssl certificates in a temp folder.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import type { HostWork } from '../../../src/engine/work.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { acmeIssued, certbotCommand, deployHook, LETS_ENCRYPT, type AcmeSettings } from '../../../roles/nginx/acme.ts';
import { fakeBin, sh, tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const PROXY = { synapse_server_name: 'example.com', synapse_public_baseurl: 'https://matrix.example.com/' };

async function build(role: string, vars: Record<string, unknown>): Promise<HostWork[]> {
  const cwd = writeTree(tempDir(), {
    'site.yml': `- hosts: all\n  roles: [${role}]\n`,
    'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify(vars)}\n`,
  });
  return buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
}

async function errors(role: string, vars: Record<string, unknown>): Promise<string[]> {
  return userErrorsOf(build(role, vars));
}

const resources = async (role: string, vars: Record<string, unknown>) => (await build(role, vars))[0]!.plays[0]!.items.map((i) => i.resource);

describe('proxy_acme: the variable', () => {
  it.each(['nginx', 'apache'])('%s: true takes every default; the certificate paths are the stable ones', async (role) => {
    const rs = await resources(role, { ...PROXY, proxy_acme: true });
    const certbot = rs.find((r) => r.id.startsWith('ACME certificate for '))!;
    expect(certbot.id).toBe(`ACME certificate for matrix.example.com from ${LETS_ENCRYPT}`);
    const script = (certbot.plan({ done: false } as never) as { script: string }).script;
    expect(script).toContain('--server https://acme-v02.api.letsencrypt.org/directory');
    expect(script).toContain('--key-type ecdsa --register-unsafely-without-email');
    expect(script).toContain('--webroot-path /var/www/mxplay-acme');
    const conf = rs.find((r) => r.id.endsWith('/mxplay-matrix.conf'))!;
    const text = (conf.plan({ kind: 'none' } as never) as { diff: { after: string } }).diff.after;
    expect(text).toContain('/etc/ssl/mxplay-acme/fullchain.pem');
    expect(text).toContain('/var/www/mxplay-acme');
    expect(text).not.toContain('mxplay-selfsigned');
  });

  it('false, or no proxy_acme: no certbot, and a certificate source is still required', async () => {
    expect((await errors('nginx', { ...PROXY, proxy_acme: false })).join('\n')).toMatch(/role nginx, key proxy_tls_certificate: proxy_tls_certificate: give proxy_tls_certificate and proxy_tls_certificate_key, or proxy_tls_self_signed: true, or proxy_acme/);
    const rs = await resources('nginx', { ...PROXY, proxy_acme: false, proxy_tls_self_signed: true });
    expect(rs.some((r) => r.id.startsWith('ACME') || r.id === 'certbot.timer')).toBe(false);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a misspelt key', { proxy_acme: { emial: 'a@example.com' } }, /host m1, role nginx, key proxy_acme: proxy_acme: Unrecognized key: "emial"/],
    ['a directory over plain http', { proxy_acme: { directory: 'http://acme.example.com/dir' } }, /role nginx, key proxy_acme: proxy_acme\.directory: Invalid URL/],
    ['an unknown key type', { proxy_acme: { key_type: 'dsa' } }, /role nginx, key proxy_acme: proxy_acme\.key_type: .*"ecdsa"\|"rsa"/],
    ['an address that is not one', { proxy_acme: { email: "x'; reboot" } }, /role nginx, key proxy_acme: proxy_acme\.email: Invalid email/],
    ['a string instead of an object', { proxy_acme: 'yes' }, /role nginx, key proxy_acme: proxy_acme: true, false, or an object with directory, email, key_type/],
    ['ACME and the self-signed mode', { proxy_acme: true, proxy_tls_self_signed: true }, /key proxy_tls_certificate: .*one of them/],
    ['ACME and a given certificate', { proxy_acme: true, proxy_tls_certificate: '/etc/ssl/c.pem', proxy_tls_certificate_key: '/etc/ssl/k.pem' }, /key proxy_tls_certificate: .*one of them/],
    ['an IP address as the Matrix host', { proxy_acme: true, synapse_public_baseurl: 'https://192.0.2.7/' }, /role nginx, key proxy_acme: proxy_acme: certificates from ACME are for host names: synapse_public_baseurl's host 192\.0\.2\.7 is not one/],
  ])('refuses %s, naming host, role and key', async (_what, vars, msg) => {
    for (const role of ['nginx', 'apache']) {
      const errs = (await errors(role, { ...PROXY, ...vars })).join('\n');
      expect(errs).toMatch(role === 'nginx' ? msg : new RegExp(msg.source.replace('role nginx', 'role apache')));
    }
  });
});

describe('proxy_acme: the names on the certificate follow the names served', () => {
  const certbotOf = async (vars: Record<string, unknown>) => (await resources('nginx', { ...PROXY, proxy_acme: true, ...vars })).find((r) => r.id.startsWith('ACME certificate for '))!;
  it.each<[string, Record<string, unknown>, string[]]>([
    ['the Matrix host alone', {}, ['matrix.example.com']],
    ['with the base domain it serves', { proxy_serve_base_domain: true }, ['matrix.example.com', 'example.com']],
    ['with Jitsi and the web apps', { proxy_serve_jitsi: true, jitsi_domain: 'meet.example.com', element_domain: 'chat.example.com', synapse_admin_domain: 'admin.example.com' },
      ['matrix.example.com', 'meet.example.com', 'chat.example.com', 'admin.example.com']],
  ])('%s', async (_what, vars, names) => {
    const r = await certbotOf(vars);
    expect(r.id).toBe(`ACME certificate for ${names.join(', ')} from ${LETS_ENCRYPT}`);
    const script = (r.plan({ done: false } as never) as { script: string }).script;
    expect(script.match(/-d \S+/g)).toEqual(names.map((n) => `-d ${n}`));
  });
});

// The shell pieces, run with the host's absolute paths moved into a temp folder.
function moved(script: string, root: string): string {
  return script.replaceAll('/etc/letsencrypt', `${root}/le`).replaceAll('/etc/ssl/mxplay-acme', `${root}/acme`);
}

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A host after an issuance: certbot's live/ and renewal config, our links pointing there. */
function issuedHost(names: string[], settings: { server: string; keyType: string }): string {
  const root = tempDir('mxp-unit-acme-');
  const live = join(root, 'le/live/mxplay');
  mkdirSync(live, { recursive: true });
  mkdirSync(join(root, 'le/renewal'));
  mkdirSync(join(root, 'acme'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-days', '1', '-subj', `/CN=${names[0]}`,
    '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', join(live, 'privkey.pem'), '-out', join(live, 'cert.pem'));
  writeFileSync(join(root, 'le/renewal/mxplay.conf'), `version = 2.11.0\n[renewalparams]\nkey_type = ${settings.keyType}\nserver = ${settings.server}\n`);
  symlinkSync(join(live, 'fullchain.pem'), join(root, 'acme/fullchain.pem'));
  return root;
}

describe('acmeIssued: runs certbot only when the served certificate is not the one asked for', () => {
  const a: AcmeSettings = { directory: 'https://acme.example.com/dir', key_type: 'ecdsa' };
  const names = ['matrix.example.com', 'example.com'];
  const state = { server: a.directory, keyType: 'ecdsa' };
  it.each<[string, () => string, string[], AcmeSettings, number]>([
    ['issued for these names (in another order)', () => issuedHost(['example.com', 'matrix.example.com'], state), names, a, 0],
    ['a name more is served now', () => issuedHost(names, state), [...names, 'chat.example.com'], a, 1],
    ['a name fewer is served now', () => issuedHost(names, state), ['matrix.example.com'], a, 1],
    ['another ACME server', () => issuedHost(names, state), names, { ...a, directory: 'https://other.example.com/dir' }, 1],
    ['another key type', () => issuedHost(names, state), names, { ...a, key_type: 'rsa' }, 1],
    ['still the temporary certificate (no link yet)', () => {
      const root = issuedHost(names, state);
      execFileSync('rm', [join(root, 'acme/fullchain.pem')]);
      writeFileSync(join(root, 'acme/fullchain.pem'), 'placeholder');
      return root;
    }, names, a, 1],
    ['nothing issued yet', () => tempDir('mxp-unit-acme-'), names, a, 1],
  ])('%s', (_what, host, want, settings, code) => {
    const root = host();
    expect(sh(moved(acmeIssued(want, settings), root)).code).toBe(code);
  });
});

describe('certbotCommand: every value reaches certbot as one argument, none reaches the shell', () => {
  it('hostile directory URL and email pass through verbatim', () => {
    const out = tempDir('mxp-unit-acme-out-');
    const bin = fakeBin({ certbot: `for a in "$@"; do printf '%s\\n' "$a"; done > ${out}/args` });
    const directory = "https://acme.example.com/dir?x='$(touch /tmp/pwned)'&y=`id`;z=\"q\"";
    const email = "o'brien+$(id)@example.com";
    const r = sh(certbotCommand(['a.example.com', 'b.example.com'], { directory, email, key_type: 'rsa' }, '/var/www/acme'), { fakeBin: bin });
    expect(r.code, r.stderr).toBe(0);
    const args = execFileSync('cat', [join(out, 'args')], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(args).toEqual([
      'certonly', '--non-interactive', '--agree-tos', '--webroot', '--webroot-path', '/var/www/acme', '--cert-name', 'mxplay',
      '--server', directory, '--key-type', 'rsa', '--email', email, '--deploy-hook', '/usr/local/sbin/mxplay-acme-deploy',
      '--force-renewal', '-d', 'a.example.com', '-d', 'b.example.com',
    ]);
  });
});

describe('the deploy hook', () => {
  const hookIn = (root: string, role: string, unit: string) => {
    const p = join(root, 'hook');
    writeFileSync(p, moved(deployHook(role, unit), root), { mode: 0o755 });
    return p;
  };
  it('links the served paths to the renewed lineage and reloads the running proxy', () => {
    const root = issuedHost(['a.example.com'], { server: 'x', keyType: 'ecdsa' });
    const calls = join(root, 'calls');
    const bin = fakeBin({ systemctl: `echo "$*" >> ${calls}; exit 0` });
    const r = sh(`RENEWED_LINEAGE=${root}/le/live/mxplay ${hookIn(root, 'apache', 'apache2')}`, { fakeBin: bin });
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(join(root, 'acme/fullchain.pem'))).toBe(`${root}/le/live/mxplay/fullchain.pem`);
    expect(readlinkSync(join(root, 'acme/privkey.pem'))).toBe(`${root}/le/live/mxplay/privkey.pem`);
    expect(execFileSync('cat', [calls], { encoding: 'utf8' }).trim().split('\n')).toEqual(['is-active --quiet apache2', 'reload apache2']);
  });

  it('leaves other certificates alone, and does not start a stopped proxy', () => {
    const root = issuedHost(['a.example.com'], { server: 'x', keyType: 'ecdsa' });
    const calls = join(root, 'calls');
    const bin = fakeBin({ systemctl: `echo "$*" >> ${calls}; [ "$1" != is-active ]` });
    expect(sh(`RENEWED_LINEAGE=${root}/le/live/other ${hookIn(root, 'nginx', 'nginx')}`, { fakeBin: bin }).code).toBe(0);
    expect(readlinkSync(join(root, 'acme/fullchain.pem'))).toBe(`${root}/le/live/mxplay/fullchain.pem`);
    expect(() => readlinkSync(join(root, 'acme/privkey.pem'))).toThrow(/ENOENT/);
    expect(sh(`RENEWED_LINEAGE=${root}/le/live/mxplay ${hookIn(root, 'nginx', 'nginx')}`, { fakeBin: bin }).code).toBe(0);
    expect(execFileSync('cat', [calls], { encoding: 'utf8' }).trim().split('\n')).toEqual(['is-active --quiet nginx']);
  });
});
