// Values a role's config file cannot hold are refused before anything runs, by the role's schema,
// with the host, role and key named (the encoders of src/resources/config-text.ts are the
// backstop; see test/unit/resources/config-text.test.ts).
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const PROXY = {
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  proxy_tls_self_signed: true,
};
const BASE: Record<string, Record<string, unknown>> = {
  nginx: PROXY,
  apache: PROXY,
  coturn: { coturn_realm: 'turn.example.com' },
  jitsi: { jitsi_domain: 'meet.example.com' },
  synapse_consent: { synapse_consent_version: '1.0', synapse_consent_policies: { '1.0': '<p>Terms</p>' }, synapse_listener_resources: ['client', 'consent'] },
};

async function errors(role: string, vars: Record<string, unknown>): Promise<string[]> {
  const hostVars = JSON.stringify({ ...BASE[role], ...vars });
  const cwd = writeTree(tempDir(), {
    'site.yml': `- hosts: all\n  roles: [${role}]\n`,
    'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: unit-master-secret-0123 }\n  hosts:\n    m1: ${hostVars}\n`,
  });
  return userErrorsOf(buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() }));
}

describe('roles refuse values their config files cannot hold, naming the key', () => {
  it.each(Object.keys(BASE))('%s: ordinary values build', async (role) => expect(await errors(role, {})).toEqual([]));

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    // nginx and apache share these variables (roles/nginx/proxy.ts, web-apps.ts).
    ['nginx', { element_domain: 'element.example.com; }' }, 'element_domain', /a host name like element\.example\.com/],
    ['nginx', { jitsi_domain: 'meet.example.com\nx' }, 'jitsi_domain', /a host name like meet\.example\.com/],
    ['nginx', { synapse_public_baseurl: 'https://matrix$host{}/' }, 'synapse_public_baseurl', /its host must be a host name/],
    ['nginx', { proxy_synapse_host: '127.0.0.1; }' }, 'proxy_synapse_host', /a host name like synapse\.internal or an IP address/],
    ['nginx', { proxy_tls_self_signed: false, proxy_tls_certificate: '/etc/ssl/$x.pem', proxy_tls_certificate_key: '/etc/ssl/k.pem' }, 'proxy_tls_certificate', /an absolute path/],
    ['nginx', { proxy_acme_webroot: '/var/www/acme }' }, 'proxy_acme_webroot', /an absolute path/],
    ['nginx', { element_domain: 'element.example.com', element_web_dir: '/var/www/el"ement' }, 'element_web_dir', /an absolute path/],
    ['nginx', { proxy_synapse_admin_allow: ['10.0.0.0/8; allow all'] }, 'proxy_synapse_admin_allow', /./],
    ['nginx', { proxy_serve_base_domain: true, synapse_server_name: 'example.com:8448' }, 'synapse_server_name', /a host name like example\.com \(no port\)/],
    ['apache', { synapse_admin_domain: 'admin.example.com>' }, 'synapse_admin_domain', /a host name like element\.example\.com/],
    ['apache', { proxy_jitsi_host: '${APACHE_LOG_DIR}' }, 'proxy_jitsi_host', /a host name like jitsi\.internal or an IP address/],
    ['apache', { synapse_admin_dir: '/srv/${HOME}' }, 'synapse_admin_dir', /an absolute path/],
    // coturn: one option per line of /etc/turnserver.conf.
    ['coturn', { coturn_realm: 'turn.example.com\nno-auth' }, 'coturn_realm', /no line break or NUL/],
    ['coturn', { coturn_realm: 'r'.repeat(128) }, 'coturn_realm', /at most 127 bytes/],
    ['coturn', { coturn_shared_secret: 'a-long-secret\nno-auth' }, 'coturn_shared_secret', /no line break or NUL/],
    ['coturn', { coturn_shared_secret: 's'.repeat(1001) }, 'coturn_shared_secret', /at most 1000 bytes/],
    ['coturn', { coturn_listening_ips: ['0.0.0.0\nno-auth'] }, 'coturn_listening_ips', /./],
    ['coturn', { coturn_external_ip: '203.0.113.5 #' }, 'coturn_external_ip', /an IP address, or public\/private addresses/],
    ['coturn', { coturn_tls_cert: '/etc/c.pem\nno-auth', coturn_tls_key: '/etc/k.pem' }, 'coturn_tls_cert', /an absolute path/],
    // jitsi: the .env holds anything but a NUL; what the images do with a value is narrower.
    ['jitsi', { jitsi_timezone: "UTC\nJVB_PORT='1'" }, 'jitsi_timezone', /a time zone like Europe\/Berlin/],
    ['jitsi', { jitsi_dir: '/srv/$jitsi' }, 'jitsi_dir', /an absolute path/],
    ['jitsi', { jitsi_jicofo_auth_password: 'long-password\\' }, 'jitsi_jicofo_auth_password', /no quote, backslash or line break/],
    // synapse_consent: the name is HTML text (encoded); only a NUL cannot be held.
    ['synapse_consent', { synapse_consent_policy_name: 'Terms\u0000' }, 'synapse_consent_policy_name', /NUL/],
    ['synapse_consent', { synapse_consent_template_dir: '/etc/consent templates' }, 'synapse_consent_template_dir', /an absolute path/],
  ])('%s %j', async (role, vars, key, msg) => {
    const errs = await errors(role, vars);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`host m1, role ${role}, key ${key}(\\.\\d+)?: `));
    expect(errs[0]).toMatch(msg);
  });
});

describe('values the formats can hold are written through their encoders', () => {
  async function rendered(role: string, vars: Record<string, unknown>, path: string): Promise<string> {
    const cwd = writeTree(tempDir(), {
      'site.yml': `- hosts: all\n  roles: [${role}]\n`,
      'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: unit-master-secret-0123 }\n  hosts:\n    m1: ${JSON.stringify({ ...BASE[role], ...vars })}\n`,
    });
    const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
    const r = works[0]!.plays[0]!.items.map((i) => i.resource).find((x) => x.id === path)!;
    const change = r.plan({ kind: 'none' } as never) as { diff: { after: string } };
    return change.diff.after;
  }

  it('coturn: a realm with a leading "=" and a "#" is quoted as coturn reads it', async () => {
    expect(await rendered('coturn', { coturn_realm: '=x#y' }, '/etc/turnserver.conf')).toContain('\nrealm="=x#y"\n');
  });

  it('synapse_consent: the policy name is text to HTML and to Synapse\'s Jinja2', async () => {
    const html = await rendered('synapse_consent', { synapse_consent_policy_name: '{% raw %}{{ 7*7 }} <b>&{% x %}{% endraw %}' }, '/etc/matrix-synapse/consent_templates/en/1.0.html');
    expect(html).toContain('<title>&#123;&#123; 7*7 &#125;&#125; &lt;b&gt;&amp;&#123;% x %&#125; 1.0</title>');
    expect(html).toContain('<p>Terms</p>'); // the body is raw HTML and Jinja2 by design
  });
});
