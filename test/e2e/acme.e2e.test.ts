// ACME certificates for the proxies (proxy_acme), issued by Pebble (Let's Encrypt's test server,
// on the lab bridge) through HTTP-01 on each proxy's own port 80, with Debian's certbot. nginx and
// apache each on a fresh host, no Synapse behind them: the certificates are the subject. Checked
// from this machine with a TLS client that trusts only Pebble's root, by name (SNI), for every
// name a proxy serves; then a forced renewal on the host is served without a run of mxplay.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { eventually } from './helpers/matrix.ts';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { startPebble, type Pebble } from './helpers/pebble.ts';
import { projectDir } from './helpers/project.ts';

const HOSTS = [
  { name: 'acmen', role: 'nginx', unit: 'nginx', keyType: 'ecdsa' },
  { name: 'acmea', role: 'apache', unit: 'apache2', keyType: 'rsa' },
] as const;
type HostName = (typeof HOSTS)[number]['name'];

/** Every name a proxy serves: the Matrix host, the base domain (it serves .well-known), Element. */
const names = (h: HostName) => [`m.${h}.test`, `${h}.test`, `chat.${h}.test`];
const ADMIN = 'adm.acmen.test';
const WEBROOT = '/srv/acme-challenges';

interface Served {
  authorized: boolean;
  error: string | null;
  serial: string;
  san: string;
  identityError: string | undefined;
  /** the certificate's key: an EC curve name, or rsa */
  key: string;
}

/** What a TLS client trusting only Pebble's root gets from ip:443 when it asks for `name` (SNI). */
function served(ip: string, name: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: ip, port: 443, servername: name, ca, rejectUnauthorized: false, timeout: 10_000 });
    sock.once('secureConnect', () => {
      const cert: PeerCertificate = sock.getPeerCertificate();
      resolve({
        authorized: sock.authorized,
        error: sock.authorizationError ? String(sock.authorizationError) : null,
        serial: cert.serialNumber,
        san: cert.subjectaltname ?? '',
        identityError: checkServerIdentity(name, cert)?.message,
        key: cert.asn1Curve ?? (cert.modulus ? 'rsa' : 'unknown'),
      });
      sock.end();
    });
    sock.once('timeout', () => sock.destroy(new Error(`TLS to ${ip} (${name}): timeout`)));
    sock.once('error', reject);
  });
}

describe('proxy_acme: certificates from Pebble for nginx and apache, on two fresh hosts', () => {
  let lab: LabFixture;
  let pebble: Pebble;
  let project: string;
  const run = (...args: string[]) => mxplay(['run', 'site.yml', '-i', 'e2e', ...args], { cwd: project });
  const ip = (h: HostName) => lab.host(h).ip;
  const servedBy = (h: HostName, name: string) => served(ip(h), name, pebble.issuerRootPem);

  beforeAll(async () => {
    [lab, pebble] = await Promise.all([labHosts(HOSTS.map((h) => h.name)), startPebble()]);
    // The names exist for Pebble only (its DNS): certbot and this test reach the hosts by address.
    for (const h of HOSTS) await pebble.addA([...names(h.name), ...(h.name === 'acmen' ? [ADMIN] : [])], ip(h.name));
    project = await projectDir('acme');
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, {
      // certbot on the hosts trusts Pebble's HTTPS through the system store (renewals by
      // certbot.timer too): Debian's python3-certifi reads /etc/ssl/certs.
      ca_trust_certificates: { 'pebble-directory': pebble.directoryCaPem },
      proxy_serve_base_domain: true,
    });
    await mkdir(join(inv, 'host_vars'));
    for (const h of HOSTS) {
      const [matrix, base, element] = names(h.name);
      await writeFile(join(inv, 'host_vars', `${h.name}.yml`), `${JSON.stringify({
        synapse_server_name: base,
        synapse_public_baseurl: `https://${matrix}/`,
        element_domain: element,
        proxy_acme: { directory: pebble.directory, key_type: h.keyType, ...(h.name === 'acmen' ? { email: 'ops+acme@acmen.test' } : {}) },
        // apache: challenges from a webroot of the inventory's choosing; nginx: the default one.
        ...(h.name === 'acmea' ? { proxy_acme_webroot: WEBROOT } : {}),
      }, null, 2)}\n`);
    }
    await writeFile(join(project, 'site.yml'), [
      '- hosts: acmen', '  roles: [ca_trust, nginx]',
      '- hosts: acmea', '  roles: [ca_trust, apache]', '',
    ].join('\n'));
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([lab?.stop(), pebble?.stop()]);
  });

  it('--check on the bare hosts plans certbot, the temporary certificate and the ACME certificate for every name', async () => {
    const r = await run('--check', '--detailed-exitcode');
    expect(r.code, r.stderr + r.stdout).toBe(2);
    for (const h of HOSTS) expect(r.stdout).toContain(`ACME certificate for ${names(h.name).join(', ')} from ${pebble.directory}`);
    expect(r.stdout).toContain('temporary certificate /etc/ssl/mxplay-acme/fullchain.pem until the first ACME issuance');
    expect(r.stdout).toMatch(/\+ apt .*certbot/);
  });

  it('converges both hosts; every served name has a certificate from Pebble, valid for that name', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, `${r.stdout}\n${r.stderr}\n${pebble.log()}`).toBe(0);
    for (const h of HOSTS) {
      expect(changedOf(r, h.name)).toBeGreaterThan(5);
      for (const name of names(h.name)) {
        // The deploy hook's reload is asynchronous: old workers may serve the temporary certificate a moment longer.
        const s = await eventually(async () => {
          const x = await servedBy(h.name, name);
          if (!x.authorized) throw new Error(`${name}: ${x.error} (san ${x.san})`);
          return x;
        });
        expect({ name, authorized: s.authorized, error: s.error, identity: s.identityError, key: s.key })
          .toEqual({ name, authorized: true, error: null, identity: undefined, key: h.keyType === 'rsa' ? 'rsa' : 'prime256v1' });
        // One certificate for all names of the host.
        expect(s.san.split(', ').sort()).toEqual(names(h.name).map((n) => `DNS:${n}`).sort());
      }
      const state = await lab.ssh(h.name, [
        'systemctl is-enabled certbot.timer', 'systemctl is-active certbot.timer',
        'readlink /etc/ssl/mxplay-acme/fullchain.pem',
        'grep -E "^(renew_hook|key_type|authenticator) = " /etc/letsencrypt/renewal/mxplay.conf | sort',
        // certbot keeps the webroot per name for renewals.
        `grep -cxF ${JSON.stringify(`${names(h.name)[0]} = ${h.name === 'acmea' ? WEBROOT : '/var/www/mxplay-acme'}`)} /etc/letsencrypt/renewal/mxplay.conf`,
      ].join('; '));
      expect(state.stdout.trim().split('\n')).toEqual([
        'enabled', 'active', '/etc/letsencrypt/live/mxplay/fullchain.pem',
        'authenticator = webroot', `key_type = ${h.keyType}`, 'renew_hook = /usr/local/sbin/mxplay-acme-deploy', '1',
      ]);
    }
  });

  it('a second run reports 0 changed', async () => {
    const r = await run('--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json!.hosts.flatMap((p) => p.changes)).toEqual([]);
    for (const h of HOSTS) expect(changedOf(r, h.name)).toBe(0);
  });

  it('a forced renewal on the host is served after the deploy hook reloads the proxy, with no run of mxplay', async () => {
    for (const h of HOSTS) {
      const before = await servedBy(h.name, names(h.name)[0]!);
      const renew = await lab.ssh(h.name, 'certbot renew --force-renewal --no-random-sleep-on-renew 2>&1; echo "exit=$?"');
      expect(renew.stdout, renew.stdout + pebble.log()).toMatch(/exit=0\s*$/);
      // The reload is asynchronous: old workers may answer for a moment.
      const after = await eventually(async () => {
        const s = await servedBy(h.name, names(h.name)[0]!);
        if (s.serial === before.serial) throw new Error(`${h.name} still serves serial ${s.serial}`);
        return s;
      });
      expect([after.authorized, after.identityError]).toEqual([true, undefined]);
      for (const name of names(h.name).slice(1)) expect((await servedBy(h.name, name)).serial).toBe(after.serial);
    }
    // Nothing for mxplay to do after a renewal.
    const check = await run('--check', '--detailed-exitcode');
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('a newly served name: the plan shows the certificate for the new set, the run issues it, the next run changes nothing', async () => {
    const more = ['--limit', 'acmen', '-e', `synapse_admin_domain=${ADMIN}`];
    const want = [...names('acmen'), ADMIN];
    const plan = await run('--check', ...more);
    expect(plan.stdout).toContain(`ACME certificate for ${want.join(', ')} from ${pebble.directory}`);

    const r = await run('--yes', '--json', ...more);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${pebble.log()}`).toBe(0);
    for (const name of want) {
      const s = await eventually(async () => {
        const x = await servedBy('acmen', name);
        if (x.san.split(', ').length !== want.length) throw new Error(`${name}: still the certificate for ${x.san}`);
        return x;
      });
      expect([name, s.authorized, s.identityError]).toEqual([name, true, undefined]);
    }
    const again = await run('--yes', '--json', ...more);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'acmen')).toBe(0);
  });
});
