// The synapse_oidc role: what each set of variables writes into conf.d/oidc.yaml (read back as
// Synapse's PyYAML reads it), and what is refused before any host is contacted, naming host, role
// and key. Built with the real engine from an inventory, as a run builds it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { jinjaLiteral } from '../../../src/vars/literal.ts';
import { tempDir, userErrorsOf, writeTree } from '../helpers.ts';

const FRAGMENT = '/etc/matrix-synapse/conf.d/oidc.yaml';
const SECRET = `s3cr"et' $(id) \\ #x`;
const BASE = {
  mxplay_master_secret: 'unit-master-secret-0123',
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  synapse_package_source: 'debian',
  synapse_oidc_idp_id: 'corp',
  synapse_oidc_idp_name: 'Corp SSO',
  synapse_oidc_issuer: 'https://sso.example.com/realms/main',
  synapse_oidc_client_id: 'synapse',
  synapse_oidc_client_secret: SECRET,
};

async function build(vars: Record<string, unknown>, base: Record<string, unknown> = BASE) {
  const all = Object.fromEntries(Object.entries({ ...base, ...vars }).filter(([, v]) => v !== undefined));
  const cwd = writeTree(tempDir(), {
    'site.yml': '- hosts: all\n  roles: [synapse, synapse_oidc]\n',
    'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify(jinjaLiteral(all))}\n`,
  });
  return buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
}

async function errors(vars: Record<string, unknown>): Promise<string[]> {
  return userErrorsOf(build(vars));
}

/** The fragment resource's plan on a bare host: its text, or 'absent' when the role removes it. */
async function fragment(vars: Record<string, unknown>): Promise<{ text?: string; summary?: string }> {
  const works = await build(vars);
  const item = works[0]!.plays[0]!.items.find((i) => i.resource.id === FRAGMENT && i.role === 'synapse_oidc');
  expect(item, 'oidc.yaml is a resource of the role').toBeDefined();
  const p = item!.resource.plan({ kind: 'none' } as never) as { summary?: string; diff?: { after?: string | null } } | null;
  return { text: p?.diff?.after ?? undefined, summary: p?.summary };
}

/** As Synapse reads it: PyYAML (YAML 1.1), not the writer's own parser. */
function pyYaml(text: string): any {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const DEFAULT_PROVIDER = {
  idp_id: 'corp', idp_name: 'Corp SSO', issuer: 'https://sso.example.com/realms/main', discover: true,
  client_id: 'synapse', client_secret: SECRET, client_auth_method: 'client_secret_basic', pkce_method: 'auto',
  scopes: ['openid', 'profile'], user_profile_method: 'auto', allow_existing_users: false, enable_registration: true,
  attribute_requirements: [],
  user_mapping_provider: { config: { subject_template: '{{ user.sub }}', localpart_template: '{{ user.preferred_username }}', display_name_template: '{{ user.name }}', confirm_localpart: false } },
};

describe('synapse_oidc: the fragment Synapse reads', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>?]>([
    ['the defaults: one provider, discovery, ID token claims, the usual templates', {}, {}],
    ['hostile names, templates and requirement values arrive as written',
      {
        synapse_oidc_idp_name: `Corp "SSO" <b>&</b> {{ 7*7 }} ✓\n# not a comment`,
        synapse_oidc_user_mapping: { localpart_template: '{{ user.email.split("@")[0] | lower }}', display_name_template: `{{ user.given_name }} 'x' "y" #z: {% if 1 %}ok{% endif %}`, email_template: '{{ user.email }}' },
        synapse_oidc_attribute_requirements: [{ attribute: 'groups', value: `staff: "a" #b` }, { attribute: 'hd', one_of: ['example.com', '*', 'yes'] }, { attribute: 'email_verified' }],
      },
      {
        idp_name: `Corp "SSO" <b>&</b> {{ 7*7 }} ✓\n# not a comment`,
        attribute_requirements: [{ attribute: 'groups', value: `staff: "a" #b` }, { attribute: 'hd', one_of: ['example.com', '*', 'yes'] }, { attribute: 'email_verified' }],
        user_mapping_provider: { config: { subject_template: '{{ user.sub }}', localpart_template: '{{ user.email.split("@")[0] | lower }}', display_name_template: `{{ user.given_name }} 'x' "y" #z: {% if 1 %}ok{% endif %}`, email_template: '{{ user.email }}', confirm_localpart: false } },
      }],
    ['no display name template, confirm the localpart',
      { synapse_oidc_user_mapping: { display_name_template: null, confirm_localpart: true } },
      { user_mapping_provider: { config: { subject_template: '{{ user.sub }}', localpart_template: '{{ user.preferred_username }}', confirm_localpart: true } } }],
    ['without discovery: the endpoints are written',
      { synapse_oidc_discover: false, synapse_oidc_endpoints: { authorization_endpoint: 'https://sso.example.com/auth', token_endpoint: 'https://sso.example.com/token', jwks_uri: 'https://sso.example.com/jwks' } },
      { discover: false, authorization_endpoint: 'https://sso.example.com/auth', token_endpoint: 'https://sso.example.com/token', jwks_uri: 'https://sso.example.com/jwks' }],
    ['an http issuer for a test provider, with skip_verification',
      { synapse_oidc_issuer: 'http://idp.lab:8080', synapse_oidc_skip_verification: true },
      { issuer: 'http://idp.lab:8080', skip_verification: true }],
    ['% and + in the secret and : in the id with client_secret_post (sent form-encoded)',
      { synapse_oidc_client_auth_method: 'client_secret_post', synapse_oidc_client_secret: 'abc%41+def-0123', synapse_oidc_client_id: 'corp:synapse' },
      { client_auth_method: 'client_secret_post', client_secret: 'abc%41+def-0123', client_id: 'corp:synapse' }],
    ['a public client: no secret', { synapse_oidc_client_secret: undefined, synapse_oidc_client_auth_method: 'none' }, { client_auth_method: 'none', client_secret: undefined }],
    ['existing users, no new accounts, brand, scopes, userinfo',
      { synapse_oidc_allow_existing_users: true, synapse_oidc_enable_registration: false, synapse_oidc_idp_brand: 'gitlab', synapse_oidc_scopes: ['openid', 'email', 'groups'], synapse_oidc_user_profile_method: 'userinfo_endpoint', synapse_oidc_pkce_method: 'always' },
      { allow_existing_users: true, enable_registration: false, idp_brand: 'gitlab', scopes: ['openid', 'email', 'groups'], user_profile_method: 'userinfo_endpoint', pkce_method: 'always' }],
    ['the sso block', { synapse_oidc_client_whitelist: ['https://element.example.com/', 'https://app.example.org/login'], synapse_oidc_update_profile_information: true }, {},
      { client_whitelist: ['https://element.example.com/', 'https://app.example.org/login'], update_profile_information: true }],
  ])('%s', async (_what, vars, provider, sso = { client_whitelist: [], update_profile_information: false }) => {
    const { text } = await fragment(vars);
    expect(text).toMatch(/^# managed by mxplay, role synapse_oidc: owns oidc_providers, sso\n/);
    const want = Object.fromEntries(Object.entries({ ...DEFAULT_PROVIDER, ...provider }).filter(([, v]) => v !== undefined));
    expect(pyYaml(text!)).toEqual({ oidc_providers: [want], sso });
  });

  it('a fragment holding the client secret is 0600 matrix-synapse; a public client\'s is 0644', async () => {
    expect((await fragment({})).summary).toBe('create (0600 matrix-synapse:root)');
    expect((await fragment({ synapse_oidc_client_secret: undefined, synapse_oidc_client_auth_method: 'none' })).summary).toBe('create (0644 root:root)');
  });

  it('synapse_oidc_enabled false removes the fragment and needs nothing else', async () => {
    const works = await build({ synapse_oidc_enabled: false }, { ...BASE, synapse_oidc_idp_id: undefined, synapse_oidc_issuer: undefined, synapse_oidc_client_id: undefined, synapse_oidc_client_secret: undefined, synapse_oidc_idp_name: undefined });
    const r = works[0]!.plays[0]!.items.find((i) => i.resource.id === FRAGMENT && i.role === 'synapse_oidc');
    expect(r!.resource.plan({ kind: 'none' } as never)).toBeNull();
    expect(r!.resource.plan({ kind: 'file', mode: '600', owner: 'matrix-synapse', group: 'root', sha: 'x', content: 'oidc_providers: []\n' } as never)).toMatchObject({ action: '-', summary: 'remove' });
    // Nothing else of the role: no package is installed for a feature that is off.
    expect(works[0]!.plays[0]!.items.filter((i) => i.role === 'synapse_oidc').map((i) => i.resource.id)).toEqual([FRAGMENT]);
  });
});

describe('synapse_oidc: refused before any host is contacted, naming host, role and key', () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an http issuer', { synapse_oidc_issuer: 'http://sso.example.com' }, 'synapse_oidc_issuer', /not https.*skip_verification/],
    ['an issuer that is no URL', { synapse_oidc_issuer: 'sso.example.com' }, 'synapse_oidc_issuer', /URL/],
    ['an http endpoint', { synapse_oidc_discover: false, synapse_oidc_endpoints: { authorization_endpoint: 'http://sso.example.com/auth', token_endpoint: 'https://sso.example.com/token', jwks_uri: 'https://sso.example.com/jwks' } }, 'synapse_oidc_endpoints', /authorization_endpoint.*not https/],
    ['no discovery and no endpoints', { synapse_oidc_discover: false }, 'synapse_oidc_endpoints', /authorization_endpoint and token_endpoint/],
    ['no discovery, ID token claims but no jwks_uri', { synapse_oidc_discover: false, synapse_oidc_endpoints: { authorization_endpoint: 'https://a.example/auth', token_endpoint: 'https://a.example/token' } }, 'synapse_oidc_endpoints', /jwks_uri/],
    ['no discovery, userinfo claims but no userinfo_endpoint', { synapse_oidc_discover: false, synapse_oidc_user_profile_method: 'userinfo_endpoint', synapse_oidc_endpoints: { authorization_endpoint: 'https://a.example/auth', token_endpoint: 'https://a.example/token' } }, 'synapse_oidc_endpoints', /userinfo_endpoint/],
    ['an unknown endpoint key', { synapse_oidc_endpoints: { authorize_endpoint: 'https://a.example/auth' } }, 'synapse_oidc_endpoints', /authorize_endpoint/],
    ['an idp_id with a slash', { synapse_oidc_idp_id: 'corp/sso' }, 'synapse_oidc_idp_id', /letters, digits/],
    ['an idp_id with a space', { synapse_oidc_idp_id: 'corp sso' }, 'synapse_oidc_idp_id', /letters, digits/],
    ['an idp_brand in capitals', { synapse_oidc_idp_brand: 'GitLab' }, 'synapse_oidc_idp_brand', /lower-case/],
    ['enabled without an issuer', { synapse_oidc_issuer: undefined }, 'synapse_oidc_issuer', /needed when single sign-on is enabled/],
    ['enabled without a provider id', { synapse_oidc_idp_id: undefined }, 'synapse_oidc_idp_id', /needed/],
    ['enabled without a client id', { synapse_oidc_client_id: undefined }, 'synapse_oidc_client_id', /needed/],
    ['a confidential client without a secret', { synapse_oidc_client_secret: undefined }, 'synapse_oidc_client_secret', /client_secret_basic needs the client secret/],
    ['auth method none with a secret', { synapse_oidc_client_auth_method: 'none' }, 'synapse_oidc_client_secret', /sends no secret/],
    ['a secret with % under client_secret_basic', { synapse_oidc_client_secret: 'abc%41def-0123' }, 'synapse_oidc_client_secret', /unencoded.*client_secret_post/],
    ['a secret with + under client_secret_basic', { synapse_oidc_client_secret: 'abc+def-0123' }, 'synapse_oidc_client_secret', /% and \+/],
    ['a client id with a colon under client_secret_basic', { synapse_oidc_client_id: 'corp:synapse' }, 'synapse_oidc_client_id', /unencoded/],
    ['a secret with non-ASCII', { synapse_oidc_client_secret: 'sécret-0123456' }, 'synapse_oidc_client_secret', /printable ASCII/],
    ['a scope with a space', { synapse_oidc_scopes: ['openid', 'profile email'] }, 'synapse_oidc_scopes', /one word/],
    ['a scope twice', { synapse_oidc_scopes: ['openid', 'openid'] }, 'synapse_oidc_scopes', /listed twice/],
    ['no scopes', { synapse_oidc_scopes: [] }, 'synapse_oidc_scopes', /1/],
    ['a requirement with value and one_of', { synapse_oidc_attribute_requirements: [{ attribute: 'groups', value: 'a', one_of: ['b'] }] }, 'synapse_oidc_attribute_requirements', /value or one_of/],
    ['a requirement without attribute', { synapse_oidc_attribute_requirements: [{ value: 'a' }] }, 'synapse_oidc_attribute_requirements', /attribute/],
    ['a requirement with an unknown key', { synapse_oidc_attribute_requirements: [{ attribute: 'groups', values: ['a'] }] }, 'synapse_oidc_attribute_requirements', /values/],
    ['an unknown user mapping key', { synapse_oidc_user_mapping: { localpart: '{{ user.sub }}' } }, 'synapse_oidc_user_mapping', /localpart/],
    ['an empty localpart template', { synapse_oidc_user_mapping: { localpart_template: '' } }, 'synapse_oidc_user_mapping', /localpart_template/],
    ['a whitelist entry that is no URL', { synapse_oidc_client_whitelist: ['element.example.com'] }, 'synapse_oidc_client_whitelist', /URL/],
    ['a misspelt variable', { synapse_oidc_isuer: 'https://sso.example.com' }, 'synapse_oidc_isuer', /did you mean synapse_oidc_issuer/],
  ])('%s', async (_what, vars, key, message) => {
    const all = Object.fromEntries(Object.entries(vars));
    const errs = await errors(all);
    const mine = errs.filter((e) => e.includes(key));
    expect(mine, errs.join('\n')).not.toEqual([]);
    expect(mine.join('\n')).toMatch(/m1/);
    expect(mine.join('\n')).toMatch(/synapse_oidc/);
    expect(mine.join('\n')).toMatch(message);
    // The client secret is never part of an error.
    expect(errs.join('\n')).not.toContain(SECRET);
  });
});
