// The roles' escape hatches for a homeserver built by hand (mxplay import): synapse_extra_config,
// synapse_replaced_files, proxy_replaced_files (nginx, apache) and coturn_extra_options. What each
// writes or removes, in which validation set, and what is refused naming host, role and key.
// Built with the real engine from an inventory, no host contacted.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { jinjaLiteral } from '../../../src/vars/literal.ts';
import type { Resource } from '../../../src/resources/types.ts';
import { q } from '../../../src/resources/sh.ts';
import { MXPLAY_FRAGMENTS, MXPLAY_SYNAPSE_KEYS } from '../../../roles/synapse/fragment.ts';
import { COTURN_OWN_OPTIONS, optionName } from '../../../roles/coturn/extra-options.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const CONF_D = '/etc/matrix-synapse/conf.d';
const BASE = {
  mxplay_master_secret: 'unit-master-secret-0123',
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  synapse_package_source: 'debian',
  proxy_tls_self_signed: true,
  coturn_realm: 'turn.example.com',
};

async function build(roles: string[], vars: Record<string, unknown>) {
  const cwd = writeTree(tempDir(), {
    'site.yml': `- hosts: all\n  roles: [${roles.join(', ')}]\n`,
    'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify(jinjaLiteral({ ansible_host: '10.0.0.1', ...BASE, ...vars }))}\n`,
  });
  return buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
}

async function resources(roles: string[], vars: Record<string, unknown>): Promise<Resource[]> {
  const works = await build(roles, vars);
  return works[0]!.plays[0]!.items.map((i) => i.resource);
}

/** A file resource's plan on a bare host. */
const planOnBare = (r: Resource) => r.plan({ kind: 'none' } as never) as { action: string; diff?: { after: string | null; hidden?: boolean }; script: string } | null;

/** As Synapse reads it: PyYAML (YAML 1.1). */
function pyYaml(text: string): any {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Every Synapse feature of every role that writes Synapse config, switched on. */
const EVERYTHING = {
  synapse_url_previews: true,
  synapse_mau_limit: 100,
  synapse_ip_range_whitelist: ['10.0.0.0/8'],
  synapse_rc_login: { address: { per_second: 1, burst_count: 5 } },
  synapse_rc_message: { per_second: 1, burst_count: 5 },
  synapse_rc_registration: { per_second: 1, burst_count: 5 },
  synapse_rc_joins: { local: { per_second: 1, burst_count: 5 } },
  synapse_rc_room_creation: { per_second: 1, burst_count: 5 },
  synapse_workers: [
    { name: 'sync1', type: 'generic', serves: ['client_sync'], port: 8083 },
    { name: 'media1', type: 'media_repository', port: 8085 },
    { name: 'fed1', type: 'federation_sender' },
    { name: 'push1', type: 'pusher' },
    { name: 'bg1', type: 'background_tasks' },
    { name: 'typing1', type: 'stream_writer', streams: ['typing'], port: 8086 },
  ],
  synapse_email_notif_from: 'Matrix <noreply@example.com>',
  synapse_ldap_uri: 'ldap://ldap.example.com',
  synapse_ldap_base: 'ou=people,dc=example,dc=com',
  synapse_consent_version: '1.0',
  synapse_consent_policies: { '1.0': '<p>ok</p>' },
  synapse_listener_resources: ['client', 'federation', 'consent'],
  synapse_server_notices_enabled: true,
  synapse_oidc_idp_id: 'corp',
  synapse_oidc_idp_name: 'Corp SSO',
  synapse_oidc_issuer: 'https://sso.example.com/realms/main',
  synapse_oidc_client_id: 'synapse',
  synapse_oidc_client_secret: 'unit-oidc-secret',
};

/** Roles whose role.ts calls fragment(): each must be in the build that derives the keys. */
function rolesWritingFragments(): string[] {
  const dir = new URL('../../../roles/', import.meta.url);
  return readdirSync(dir).filter((r) => {
    try {
      return /\bfragment\(/.test(readFileSync(new URL(`${r}/role.ts`, dir), 'utf8'));
    } catch {
      return false;
    }
  }).sort();
}

describe('MXPLAY_SYNAPSE_KEYS and MXPLAY_FRAGMENTS: the same as what the roles write', async () => {
  const ROLES = ['synapse', 'coturn', 'synapse_email', 'synapse_ldap', 'synapse_consent', 'synapse_server_notices', 'synapse_oidc'];
  const variants = [
    { ...EVERYTHING, synapse_registration: 'invite-token', synapse_extra_config: { admin_contact: 'mailto:a@example.com' } },
    { ...EVERYTHING, synapse_registration: 'open-email' },
    { ...EVERYTHING, synapse_registration: 'closed' },
  ];
  const keys = new Set<string>();
  const fragments = new Set<string>();
  for (const vars of variants) {
    for (const r of await resources(ROLES, vars)) {
      if (!r.id.startsWith('/etc/matrix-synapse/') || !r.id.endsWith('.yaml')) continue;
      if (r.id.startsWith(`${CONF_D}/`)) fragments.add(r.id.slice(CONF_D.length + 1, -'.yaml'.length));
      if (r.id === `${CONF_D}/extra.yaml`) continue; // the user's keys, not mxplay's
      const text = planOnBare(r)?.diff?.after;
      if (text) Object.keys(parse(text) ?? {}).forEach((k) => keys.add(k));
    }
  }

  it('the build covers every role that writes a Synapse fragment', () => {
    expect(rolesWritingFragments()).toEqual([...ROLES].sort());
  });
  it('every key a role writes is in MXPLAY_SYNAPSE_KEYS (synapse_extra_config refuses it)', () => {
    expect([...keys].filter((k) => !Object.hasOwn(MXPLAY_SYNAPSE_KEYS, k))).toEqual([]);
  });
  it('MXPLAY_SYNAPSE_KEYS holds no key that no role writes', () => {
    expect(Object.keys(MXPLAY_SYNAPSE_KEYS).filter((k) => !keys.has(k))).toEqual([]);
  });
  it('MXPLAY_FRAGMENTS is exactly the fragments the roles write', () => {
    expect([...fragments].sort()).toEqual([...MXPLAY_FRAGMENTS].sort());
  });
});

describe('synapse_extra_config and synapse_replaced_files: what is written and removed', () => {
  const HOSTILE = {
    admin_contact: `mailto:o'brien"@example.com`,
    x_note: "line one\nline two: {{ not jinja }} {% raw %} #no comment\n- not a list\n",
    x_yaml_special: ['yes', 'no', '0600', '1:20', '~', 'null', '&anchor', '*alias', '!!python/object', '<<', '='],
    x_nested: { 'key: with colon': { deep: [1, 2.5, true, null, ''] } },
  };

  it('the options reach the fragment exactly as given (PyYAML reads them back), 0600, diff hidden', async () => {
    const items = await resources(['synapse'], { synapse_extra_config: HOSTILE });
    const extra = items.find((r) => r.id === `${CONF_D}/extra.yaml`)!;
    const p = planOnBare(extra)!;
    expect(p.diff!.hidden).toBe(true);
    expect(pyYaml(p.diff!.after!)).toEqual(HOSTILE);
    expect(p.script).toMatch(/^mxp_put \/etc\/matrix-synapse\/conf\.d\/extra\.yaml 0600 matrix-synapse root /);
  });

  it('no options: the fragment is removed', async () => {
    const items = await resources(['synapse'], {});
    const extra = items.find((r) => r.id === `${CONF_D}/extra.yaml`)!;
    expect(planOnBare(extra)).toBeNull(); // nothing there: nothing to do
    expect((extra.plan({ kind: 'file', sha: 'x' } as never) as { action: string }).action).toBe('-');
  });

  it('replaced files are removed in the fragments\' validation set: adjacent, same check, same handler', async () => {
    const items = await resources(['synapse'], { synapse_replaced_files: ['handmade.yaml', 'old db.yaml'] });
    const ids = items.map((r) => r.id);
    const db = items.find((r) => r.id === `${CONF_D}/database.yaml`)!;
    const first = ids.indexOf(`${CONF_D}/handmade.yaml`);
    expect(ids.slice(first - 1, first + 2)).toEqual([`${CONF_D}/extra.yaml`, `${CONF_D}/handmade.yaml`, `${CONF_D}/old db.yaml`]);
    // Every resource from the first fragment to the last removal is checked by Synapse together.
    const set = items.slice(ids.indexOf(`${CONF_D}/server_name.yaml`), first + 2);
    expect(set.every((r) => r.validate === db.validate && r.notify.join() === db.notify.join())).toBe(true);
    const removal = items[first + 1]!;
    expect(removal.plan({ kind: 'none' } as never)).toBeNull(); // already gone: no change
    const p = removal.plan({ kind: 'file', sha: 'x' } as never) as { action: string; script: string };
    expect(p.action).toBe('-');
    expect(p.script).toBe("mxp_backup '/etc/matrix-synapse/conf.d/old db.yaml'\nrm -f '/etc/matrix-synapse/conf.d/old db.yaml'");
  });

  it.each([
    ['database', { database: { name: 'sqlite3' } }, /synapse_extra_config\.database: mxplay writes database itself: set it with the synapse_db_\* variables \(role synapse\)/],
    ['listeners', { listeners: [] }, /synapse_extra_config\.listeners: mxplay writes listeners itself: set it with synapse_http_port/],
    ['turn_uris (coturn)', { turn_uris: [] }, /synapse_extra_config\.turn_uris: .*coturn_turn_uris \(role coturn\)/],
    ['email (synapse_email)', { email: {} }, /synapse_extra_config\.email: .*role synapse_email/],
    ['modules (synapse_ldap)', { modules: [] }, /synapse_extra_config\.modules: .*role synapse_ldap/],
    ['oidc_providers', { oidc_providers: [] }, /synapse_extra_config\.oidc_providers: .*role synapse_oidc/],
    ['a worker key', { worker_app: 'x' }, /synapse_extra_config\.worker_app: .*synapse_workers/],
    ['a key with a line break', { 'a\nb': 1 }, /synapse_extra_config\.a\nb: not a Synapse option name/],
    ['a key with a blank', { 'a b': 1 }, /synapse_extra_config\.a b: not a Synapse option name/],
    ['not a mapping', ['admin_contact'], /synapse_extra_config: /],
  ])('synapse_extra_config refuses %s, naming host, role and key', async (_what, value, message) => {
    const errs = await userErrorsOf(build(['synapse'], { synapse_extra_config: value }));
    expect(errs).toEqual([expect.stringMatching(/host m1, role synapse, key synapse_extra_config/)]);
    expect(errs[0]).toMatch(message);
  });

  it.each([
    ['an empty name', [''], /synapse_replaced_files\[0\]: a file name, not empty/],
    ['a path', ['sub/x.yaml'], /synapse_replaced_files\[0\]: a bare file name/],
    ['an absolute path', ['/etc/passwd'], /synapse_replaced_files\[0\]: a bare file name/],
    ['..', ['..'], /synapse_replaced_files\[0\]: a bare file name .*not \. or \.\./],
    ['a fragment of the synapse role', ['database.yaml'], /synapse_replaced_files\[0\]: database\.yaml is a fragment mxplay writes itself/],
    ['the extra fragment', ['extra.yaml'], /extra\.yaml is a fragment mxplay writes itself/],
    ['a fragment of another role', ['turn.yaml'], /turn\.yaml is a fragment mxplay writes itself/],
    ['a line break', ['a\nb.yaml'], /no control characters or line breaks/],
    ['a name twice', ['a.yaml', 'a.yaml'], /synapse_replaced_files\[1\]: a\.yaml is listed twice/],
  ])('synapse_replaced_files refuses %s, naming host, role and key', async (_what, value, message) => {
    const errs = await userErrorsOf(build(['synapse'], { synapse_replaced_files: value }));
    expect(errs).toEqual([expect.stringMatching(/host m1, role synapse, key synapse_replaced_files/)]);
    expect(errs[0]).toMatch(message);
  });
});

describe('proxy_replaced_files: removed with the virtual host, in its checked set', () => {
  it.each([
    ['nginx', '/etc/nginx/conf.d/mxplay-matrix.conf', 'nginx -t', 'reload nginx', ['/etc/nginx/sites-enabled/matrix', '/etc/nginx/sites-available/matrix']],
    ['apache', '/etc/apache2/sites-enabled/mxplay-matrix.conf', 'apache2ctl configtest', 'reload apache', ['/etc/apache2/sites-enabled/matrix.conf']],
  ])('%s: right after the vhost, with its check and reload; a symlink is removed as a link', async (role, vhost, check, reload, paths) => {
    const items = await resources([role], { proxy_replaced_files: paths });
    const ids = items.map((r) => r.id);
    const at = ids.indexOf(vhost);
    expect(ids.slice(at, at + 1 + paths.length)).toEqual([vhost, ...paths]);
    for (const r of items.slice(at, at + 1 + paths.length)) {
      expect(r.validate).toBe(check);
      expect(r.notify).toEqual([reload]);
    }
    const removal = items[at + 1]!;
    expect(removal.plan({ kind: 'none' } as never)).toBeNull();
    // A sites-enabled entry is a symlink: backed up as one (cp -P) and removed with rm, never followed.
    const p = removal.plan({ kind: 'link' } as never) as { action: string; script: string };
    expect(p).toMatchObject({ action: '-', script: `mxp_backup ${q(paths[0]!)}\nrm -f ${q(paths[0]!)}` });
  });

  it.each([
    ['nginx', '/etc/passwd', /\/etc\/passwd: the nginx role removes only files of \/etc\/nginx\//],
    ['nginx', '/etc/apache2/sites-enabled/x.conf', /the nginx role removes only files of \/etc\/nginx\//],
    ['nginx', '/etc/nginx/../passwd', /\/etc\/nginx\/\.\.\/passwd: no \. or \.\. segments/],
    ['nginx', '/etc/nginx/./sites-enabled/x', /no \. or \.\. segments/],
    ['nginx', '/etc/nginx/conf.d/mxplay-matrix.conf', /mxplay-matrix\.conf: a file of the role itself/],
    ['nginx', '/etc/nginx/conf.d/mxplay-web-element.conf', /a file of the role itself/],
    ['nginx', '/etc/nginx/sites-enabled/default', /the default site, which the role removes itself/],
    ['nginx', 'sites-enabled/matrix', /proxy_replaced_files\[0\]: an absolute path/],
    ['apache', '/etc/passwd', /\/etc\/passwd: the apache role removes only files of \/etc\/apache2\//],
    ['apache', '/etc/nginx/sites-enabled/matrix', /the apache role removes only files of \/etc\/apache2\//],
    ['apache', '/etc/apache2/sites-enabled/mxplay-matrix.conf', /a file of the role itself/],
    ['apache', '/etc/apache2/sites-enabled/000-default.conf', /the default site/],
    ['apache', '/etc/apache2/mods-enabled/proxy.load', /a module file/],
  ])('%s refuses %s, naming host, role, key and path', async (role, path, message) => {
    const errs = await userErrorsOf(build([role], { proxy_replaced_files: [path] }));
    expect(errs).toEqual([expect.stringMatching(new RegExp(`host m1, role ${role}, key proxy_replaced_files`))]);
    expect(errs[0]).toMatch(message);
  });

  it('a path listed twice is refused', async () => {
    const errs = await userErrorsOf(build(['nginx'], { proxy_replaced_files: ['/etc/nginx/sites-enabled/a', '/etc/nginx/sites-enabled/a'] }));
    expect(errs).toEqual([expect.stringMatching(/key proxy_replaced_files: proxy_replaced_files\[1\]: \/etc\/nginx\/sites-enabled\/a: listed twice/)]);
  });
});

describe('coturn_extra_options', () => {
  const conf = async (vars: Record<string, unknown>) => planOnBare((await resources(['coturn'], vars)).find((r) => r.id === '/etc/turnserver.conf')!)!.diff!.after!;
  const TLS = { coturn_tls_cert: '/etc/ssl/t.crt', coturn_tls_key: '/etc/ssl/t.key', coturn_listening_ips: ['10.0.0.1'], coturn_external_ip: '203.0.113.5', coturn_allowed_peer_ips: ['10.0.0.2'] };

  it('every option the template writes (TLS or not) is in COTURN_OWN_OPTIONS, and nothing else is', async () => {
    const names = new Set<string>();
    for (const vars of [TLS, {}]) {
      for (const line of (await conf(vars)).split('\n')) if (line && !line.startsWith('#')) names.add(optionName(line));
    }
    expect([...names].sort()).toEqual(Object.keys(COTURN_OWN_OPTIONS).sort());
  });

  it('lines are written verbatim, in order, after the role\'s own options', async () => {
    const lines = ['stale-nonce=600', '--max-allocate-lifetime 120', 'server-name="a b" # {{ x }} $(id)'];
    const text = await conf({ coturn_extra_options: lines });
    expect(text.endsWith(`syslog\n\n# coturn_extra_options, as given\n${lines.join('\n')}\n`)).toBe(true);
    expect(await conf({})).not.toContain('coturn_extra_options');
  });

  it.each([
    ['realm=evil.example', /the role writes realm itself: set it with coturn_realm/],
    ['--static-auth-secret=x', /the role writes static-auth-secret itself: set it with coturn_shared_secret/],
    ['Listening-Port 3479', /the role writes listening-port itself: set it with coturn_listening_port/],
    ['no-tls', /the role writes no-tls itself: set it with coturn_tls_cert and coturn_tls_key/],
    ['fingerprint', /the role writes fingerprint itself: set it with nothing: the role always writes it/],
    ['min-port=1', /coturn_min_port/],
    ['denied-peer-ip=10.0.0.1', /coturn_denied_peer_ips/],
    ['# a comment', /a blank line or a comment: nothing for coturn to keep/],
    ['   ', /a blank line or a comment/],
    ['stale-nonce=600\nrealm=x', /one line of turnserver\.conf: no line break or NUL/],
    ['verbose\r', /no line break or NUL/],
    ['=600', /no option name coturn knows at its start/],
    [`x=${'a'.repeat(1100)}`, /at most 1023 bytes/],
  ])('refuses %j, naming host, role and key', async (line, message) => {
    const errs = await userErrorsOf(build(['coturn'], { coturn_extra_options: ['verbose', line] }));
    expect(errs).toEqual([expect.stringMatching(/host m1, role coturn, key coturn_extra_options: coturn_extra_options\[1\]/)]);
    expect(errs[0]).toMatch(message);
  });
});
