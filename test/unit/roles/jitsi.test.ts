import { describe, expect, it } from 'vitest';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { buildWork } from '../../../src/engine/build.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { composeFile, configFolders, envFile, SERVICES, type JitsiSettings } from '../../../roles/jitsi/compose.ts';
import { jitsiChoice, site, type ProxyVars } from '../../../roles/nginx/proxy.ts';
import { tempDir, writeTree } from '../helpers.ts';

const SETTINGS: JitsiSettings = {
  jitsi_domain: 'meet.example.com',
  jitsi_compose_project: 'jitsi',
  jitsi_image_repo: 'ghcr.io/jitsi',
  jitsi_image_tag: 'stable-11146-2',
  jitsi_pull_policy: 'missing',
  jitsi_http_bind: '127.0.0.1',
  jitsi_http_port: 8000,
  jitsi_web_internal_port: 8000,
  jitsi_jvb_port: 10000,
  jitsi_jvb_advertise_ips: [],
  jitsi_timezone: 'UTC',
  jitsi_service_env: {},
  jitsi_service_options: {},
};
const PW = { jicofo: 'jicofo-secret-1', jvb: 'jvb-secret-22' };
const envKeys = (text: string) => text.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => l.split('=')[0]!);

describe('jitsi compose project: which services a value reaches (only those are recreated when it changes)', () => {
  const services = composeFile(SETTINGS).services as Record<string, unknown>;
  const readers = (key: string) => SERVICES.filter((s) => JSON.stringify(services[s]).includes(`\${${key}:`) || JSON.stringify(services[s]).includes(`\${${key}}`));
  const rows: [string, string[]][] = [
    ['CONFIG', ['web', 'prosody', 'jicofo', 'jvb']],
    ['JITSI_IMAGE_REPO', ['web', 'prosody', 'jicofo', 'jvb']],
    ['JITSI_IMAGE_VERSION', ['web', 'prosody', 'jicofo', 'jvb']],
    ['JITSI_PULL_POLICY', ['web', 'prosody', 'jicofo', 'jvb']],
    ['TZ', ['web', 'prosody', 'jicofo', 'jvb']],
    ['PUBLIC_URL', ['web', 'prosody']],
    ['HTTP_BIND', ['web']],
    ['HTTP_PORT', ['web']],
    ['JVB_PORT', ['jvb']],
    ['JVB_ADVERTISE_IPS', ['jvb']],
    ['JICOFO_AUTH_PASSWORD', ['prosody', 'jicofo']],
    ['JVB_AUTH_PASSWORD', ['prosody', 'jvb']],
  ];
  it.each(rows)('%s → %j', (key, want) => expect(readers(key)).toEqual(want));

  it('every value .env holds is in the table above, and every ${...} of the compose file is in .env', () => {
    const keys = envKeys(envFile(SETTINGS, '/srv/jitsi/config', PW));
    expect(keys.sort()).toEqual(rows.map(([k]) => k).sort());
    const used = new Set([...JSON.stringify(composeFile(SETTINGS)).matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!));
    expect([...used].sort()).toEqual(keys.sort());
  });
});

describe('jitsi .env and compose file', () => {
  it('.env holds single-quoted values (compose takes them literally) and the passwords', () => {
    const env = envFile({ ...SETTINGS, jitsi_jvb_advertise_ips: ['203.0.113.5', '2001:db8::5'], jitsi_jvb_port: 10001 }, '/srv/j/config', PW);
    expect(env).toContain("CONFIG='/srv/j/config'\n");
    expect(env).toContain("PUBLIC_URL='https://meet.example.com'\n");
    expect(env).toContain("JVB_PORT='10001'\n");
    expect(env).toContain("JVB_ADVERTISE_IPS='203.0.113.5,2001:db8::5'\n");
    expect(env).toContain("JICOFO_AUTH_PASSWORD='jicofo-secret-1'\nJVB_AUTH_PASSWORD='jvb-secret-22'\n");
  });

  it('.env double-quotes a value single quotes cannot hold (compose reads it back: see config-text tests), and refuses a NUL', () => {
    expect(envFile(SETTINGS, '/srv/j', { ...PW, jvb: "it's $x" })).toContain('JVB_AUTH_PASSWORD="it\'s $$x"\n');
    expect(() => envFile(SETTINGS, '/srv/j', { ...PW, jvb: 'a\0b' })).toThrow('JVB_AUTH_PASSWORD: .env cannot hold a NUL character');
  });

  it('extra environment and compose keys go to their own service only; a literal $ is kept literal', () => {
    const c = composeFile({
      ...SETTINGS,
      jitsi_service_env: { web: { ENABLE_WELCOME_PAGE: '0', TOOLBAR_BUTTONS: 'a$b' } },
      jitsi_service_options: { jvb: { mem_limit: '2g' } },
    }).services as Record<string, Record<string, any>>;
    expect(c.web!.environment).toMatchObject({ ENABLE_WELCOME_PAGE: '0', TOOLBAR_BUTTONS: 'a$$b', DISABLE_HTTPS: '1' });
    expect(c.jvb!.mem_limit).toBe('2g');
    for (const s of ['prosody', 'jicofo', 'jvb']) expect(c[s]!.environment).not.toHaveProperty('ENABLE_WELCOME_PAGE');
    for (const s of ['web', 'prosody', 'jicofo']) expect(c[s]).not.toHaveProperty('mem_limit');
  });

  it("web is published on the bind address and host port, to the image's internal port; jvb's UDP port on all addresses", () => {
    const c = composeFile({ ...SETTINGS, jitsi_web_internal_port: 80 }).services as Record<string, Record<string, any>>;
    expect(c.web!.ports).toEqual(['${HTTP_BIND:?missing in .env}:${HTTP_PORT:?missing in .env}:80']);
    expect(c.jvb!.ports).toEqual(['${JVB_PORT:?missing in .env}:${JVB_PORT:?missing in .env}/udp']);
    expect(c.prosody).not.toHaveProperty('ports');
  });

  it('config folders: read-only config owned by root, storage by the containers\' uid', () => {
    const f = configFolders('/c');
    expect(f.filter((x) => x.owner).map((x) => x.path)).toEqual(['/c/storage/web', '/c/storage/prosody', '/c/storage/transcripts']);
    expect(f.filter((x) => x.owner).every((x) => x.owner === '1000' && x.mode === 0o750)).toBe(true);
    expect(f.filter((x) => !x.owner).every((x) => x.mode === 0o755)).toBe(true);
  });
});

/** The jitsi role built for host m1 with these host vars (YAML), or the input errors. */
async function build(hostVars: string, extra: string[] = []) {
  const cwd = writeTree(tempDir(), {
    'site.yml': '- hosts: all\n  roles: [jitsi]\n',
    'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: unit-master-secret-0123 }\n  hosts:\n    m1:\n${hostVars.replace(/^/gm, '      ')}\n`,
  });
  try {
    return { works: await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars(extra), secrets: new SecretRegistry() }) };
  } catch (e) {
    if (e instanceof UserErrors) return { errors: e.errors.map((x) => x.toString()) };
    throw e;
  }
}

describe('jitsi role: input checked per host before anything runs', () => {
  it('good input: packages, folders, the validated pair of files, the project and its handler', async () => {
    const r = await build('jitsi_domain: meet.example.com');
    expect(r.errors).toBeUndefined();
    const items = r.works![0]!.plays[0]!.items.map((i) => i.resource);
    expect(items.map((x) => `${x.type} ${x.id}`)).toEqual([
      'apt docker.io,docker-compose', 'service docker', 'directory /srv/jitsi',
      ...configFolders('/srv/jitsi/config').map((f) => `directory ${f.path}`),
      'env /srv/jitsi/.env', 'yaml /srv/jitsi/docker-compose.yml', 'docker_compose /srv/jitsi',
    ]);
    const files = items.filter((x) => x.validate);
    expect(files.map((x) => x.id)).toEqual(['/srv/jitsi/.env', '/srv/jitsi/docker-compose.yml']);
    expect(new Set(files.map((x) => x.validate))).toEqual(new Set(['cd /srv/jitsi && docker compose config -q']));
    expect(files.every((x) => x.notify.includes('docker compose up jitsi'))).toBe(true);
    expect([...r.works![0]!.plays[0]!.handlers.keys()]).toEqual(['docker compose up jitsi']);
  });

  it.each([
    ['a domain that is no host name', 'jitsi_domain: https://meet.example.com', 'jitsi_domain', /a host name like meet\.example\.com/],
    ['a time zone with a quote', "jitsi_domain: meet.example.com\njitsi_timezone: \"Europe/O'Land\"", 'jitsi_timezone', /a time zone like Europe\/Berlin/],
    ['a password jicofo cannot quote', 'jitsi_domain: meet.example.com\njitsi_jvb_auth_password: \'long-password"}\'', 'jitsi_jvb_auth_password', /no quote, backslash or line break/],
    ['a relative folder', 'jitsi_domain: meet.example.com\njitsi_dir: srv/jitsi', 'jitsi_dir', /an absolute path/],
    ['an unknown service', 'jitsi_domain: meet.example.com\njitsi_service_env: { jibri: { A: "1" } }', 'jitsi_service_env', /jibri/],
    ['an environment name compose would not pass', 'jitsi_domain: meet.example.com\njitsi_service_env: { web: { "bad-name": "1" } }', 'jitsi_service_env', /jitsi_service_env\.web\.bad-name: Invalid key/],
    ['a pull policy compose does not know', 'jitsi_domain: meet.example.com\njitsi_pull_policy: sometimes', 'jitsi_pull_policy', /missing/],
  ])('%s: the error names host, role and key', async (_n, vars, key, msg) => {
    const r = await build(vars);
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatch(new RegExp(`host m1, role jitsi, key ${key}: `));
    expect(r.errors![0]).toMatch(msg);
  });
});

describe('jitsi role: folders, passwords and the wait the inventory gives', () => {
  it('the project in jitsi_dir, CONFIG in jitsi_config_dir, the given passwords in .env, up waiting jitsi_wait_timeout_s', async () => {
    const r = await build([
      'jitsi_domain: meet.example.com',
      'jitsi_dir: /opt/meet',
      'jitsi_config_dir: /var/lib/meet',
      "jitsi_jicofo_auth_password: 'given-jicofo-pw-1'",
      "jitsi_jvb_auth_password: 'given-jvb-pw-22'",
      'jitsi_wait_timeout_s: 300',
    ].join('\n'));
    expect(r.errors).toBeUndefined();
    const items = r.works![0]!.plays[0]!.items.map((i) => i.resource);
    expect(items.map((x) => `${x.type} ${x.id}`)).toEqual([
      'apt docker.io,docker-compose', 'service docker', 'directory /opt/meet',
      ...configFolders('/var/lib/meet').map((f) => `directory ${f.path}`),
      'env /opt/meet/.env', 'yaml /opt/meet/docker-compose.yml', 'docker_compose /opt/meet',
    ]);
    const env = (items.find((x) => x.id === '/opt/meet/.env')!.plan({ kind: 'none' } as never) as { diff: { after: string } }).diff.after;
    expect(env).toContain("CONFIG='/var/lib/meet'\n");
    expect(env).toContain("JICOFO_AUTH_PASSWORD='given-jicofo-pw-1'\nJVB_AUTH_PASSWORD='given-jvb-pw-22'\n");
    const up = items.find((x) => x.type === 'docker_compose')!.plan({ want: Buffer.from('web h1').toString('base64'), have: '' } as never) as { script: string };
    expect(up.script).toBe("cd /opt/meet\ndocker compose up -d --remove-orphans --wait --wait-timeout 300");
  });
});

describe('proxy roles: the Jitsi virtual host', () => {
  const proxy = (over: Partial<ProxyVars>): ProxyVars => ({
    synapse_server_name: 'example.com',
    synapse_public_baseurl: 'https://matrix.example.com/',
    synapse_http_port: 8008,
    synapse_max_upload_size: '50M',
    proxy_synapse_host: '127.0.0.1',
    proxy_upstream_timeout: 330,
    proxy_serve_base_domain: false,
    proxy_federation_port: 443,
    proxy_synapse_admin: false,
    proxy_synapse_admin_allow: [],
    proxy_tls_self_signed: true,
    proxy_listen_ipv6: true,
    proxy_ready_port: 8799,
    proxy_serve_jitsi: false,
    proxy_jitsi_host: '127.0.0.1',
    jitsi_http_port: 8000,
    proxy_support_contacts: [],
    proxy_well_known_client_extra: {},
    element_web_dir: '/var/www/element',
    synapse_admin_dir: '/var/www/synapse-admin',
    synapse_admin_allow_networks: [],
    ...over,
  });

  it('served: its name joins the certificate and the HTTP redirects; proxied to the published web port', () => {
    const s = site(proxy({ proxy_serve_jitsi: true, jitsi_domain: 'meet.example.com', proxy_jitsi_host: '::1', jitsi_http_port: 8100 }));
    expect(s.names).toEqual(['matrix.example.com', 'meet.example.com']);
    expect(s.cert).toBe('/etc/ssl/mxplay-selfsigned/matrix.example.com+meet.example.com.crt');
    expect(s.jitsi).toEqual({ domain: 'meet.example.com', upstream: 'http://[::1]:8100' });
    expect(JSON.parse(s.wellKnown.client)['im.vector.riot.jitsi']).toEqual({ preferredDomain: 'meet.example.com' });
  });

  it('only advertised (Jitsi elsewhere): in .well-known, but no vhost and no certificate name', () => {
    const s = site(proxy({ jitsi_domain: 'meet.jit.si' }));
    expect(s.jitsi).toBeNull();
    expect(s.names).toEqual(['matrix.example.com']);
    expect(JSON.parse(s.wellKnown.client)['im.vector.riot.jitsi']).toEqual({ preferredDomain: 'meet.jit.si' });
  });

  it.each([
    ['not served: no domain needed', { proxy_serve_jitsi: false }, true],
    ['served with its own name', { proxy_serve_jitsi: true, jitsi_domain: 'meet.example.com' }, true],
    ['served without a name', { proxy_serve_jitsi: true }, false],
    ["served on the Matrix host's name", { proxy_serve_jitsi: true, jitsi_domain: 'matrix.example.com' }, false],
    ['served on the server name', { proxy_serve_jitsi: true, jitsi_domain: 'example.com' }, false],
  ] as const)('%s', (_n, over, ok) => expect(jitsiChoice(proxy(over))).toBe(ok));
});
