// Keys inside a role's object variables are checked strictly (zod's z.object would drop a typo and
// leave the default), with a "did you mean" naming the path; and variables that only make sense
// together are refused alone.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UserErrors } from '../../../src/errors.ts';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { fixedLayer, mergeLayers, parseExtraVars, unknownNestedKeys, validateRoleVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree } from '../helpers.ts';

describe('unknownNestedKeys: through arrays, records, defaults and unions', () => {
  const schema = z.object({
    dbs: z.array(z.object({ name: z.string(), lc_collate: z.string().default('C') })).default([]),
    policy: z.object({ minimum_length: z.number().default(12) }).prefault({}),
    byName: z.record(z.string(), z.object({ port: z.number() })).default({}),
    either: z.union([z.string(), z.object({ host: z.string() }), z.object({ socket: z.string() })]).optional(),
    loose: z.looseObject({ a: z.number() }).optional(),
    free: z.record(z.string(), z.unknown()).default({}),
  });
  it.each<[string, unknown, { path: string; hint?: string }[]]>([
    ['dbs', [{ name: 'a', lc_colate: 'C' }], [{ path: 'dbs[0].lc_colate', hint: 'lc_collate' }]],
    ['policy', { minimum_lenght: 3 }, [{ path: 'policy.minimum_lenght', hint: 'minimum_length' }]],
    ['byName', { 'web-1': { prot: 80 } }, [{ path: 'byName.web-1.prot', hint: 'port' }]],
    ['either', { hots: 'x' }, [{ path: 'either.hots', hint: 'host' }]],
    ['either', { host: 'x' }, []],
    ['either', 'text', []],
    ['loose', { a: 1, anything: 2 }, []],
    ['free', { any: { thing: 1 } }, []],
    ['dbs', 'not a list', []],
  ])('%s = %j', (key, value, want) => {
    expect(unknownNestedKeys(schema.shape[key as keyof typeof schema.shape], value, key).map(({ path, hint }) => (hint ? { path, hint } : { path }))).toEqual(want);
  });

  it('validateRoleVars reports them with the file and line of the variable, and zod’s own message for a strict object is not repeated', () => {
    const strict = z.object({ pg: z.array(z.strictObject({ name: z.string(), owner: z.string() })) });
    const r = validateRoleVars(strict, mergeLayers([fixedLayer({ pg: [{ name: 'a', owner: 'b', ownr: 'c' }] }, 'group_vars/db.yml', 3, 'l')]), { host: 'db1', role: 'postgres' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.map((e) => e.toString())).toEqual([
      'group_vars/db.yml:3, host db1, role postgres, key pg: pg[0].ownr: unknown key; did you mean owner?',
    ]);
  });
});

async function buildErrors(vars: Record<string, unknown>, roles = '[postgres, synapse]'): Promise<string[]> {
  const cwd = writeTree(tempDir(), {
    'site.yml': `- hosts: all\n  roles: ${roles}\n`,
    'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: unit-master-secret-0123 }\n  hosts:\n    hs1: ${JSON.stringify({ synapse_server_name: 'example.org', synapse_public_baseurl: 'https://matrix.example.org/', synapse_package_source: 'debian', ...vars })}\n`,
  });
  try {
    await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
    return [];
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.toString().replace(cwd + '/', ''));
    throw e;
  }
}

describe('built-in roles', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['postgres_databases', { postgres_databases: [{ name: 'synapse', owner: 'synapse', lc_colate: 'C' }] }, /role postgres, key postgres_databases: postgres_databases\[0\]\.lc_colate: unknown key; did you mean lc_collate\?/],
    ['postgres_users (and the password it then lacks)', { postgres_users: [{ name: 'u', pasword: 'long-enough-1' }] }, /postgres_users\[0\]\.pasword: unknown key; did you mean password\?/],
    ['synapse_password_policy', { synapse_password_policy: { minimum_lenght: 3 } }, /synapse_password_policy\.minimum_lenght: unknown key; did you mean minimum_length\?/],
  ])('%s: a misspelt nested key is an error with the path and a did-you-mean', async (_n, vars, message) => {
    const errs = await buildErrors(vars);
    expect(errs[0]).toMatch(message);
    expect(errs[0]).toMatch(/^inventory\/hosts\.yml:4, host hs1/);
  });

  it('synapse_ldap_attributes, proxy_support_contacts: nested keys are strict too', async () => {
    expect((await buildErrors({ synapse_ldap_enabled: true, synapse_ldap_uri: 'ldap://l', synapse_ldap_base: 'dc=x', synapse_ldap_attributes: { uid: 'uid', mial: 'mail' } }, '[synapse_ldap]')).join('\n'))
      .toMatch(/synapse_ldap_attributes\.mial: unknown key; did you mean mail\?/);
    expect((await buildErrors({ proxy_tls_self_signed: true, proxy_support_contacts: [{ email_address: 'a@example.org', rol: 'm.role.admin' }] }, '[nginx]')).join('\n'))
      .toMatch(/proxy_support_contacts\[0\]\.rol: unknown key; did you mean role\?/);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['synapse_admin_user without synapse_admin_password (today: silently no admin)', { synapse_admin_user: 'admin' }, '[synapse]', /key synapse_admin_user: synapse_admin_user: synapse_admin_user needs synapse_admin_password/],
    ['synapse_admin_password without synapse_admin_user', { synapse_admin_password: 'long-enough-password' }, '[synapse]', /key synapse_admin_password: .*needs synapse_admin_user/],
    ['synapse_email_smtp_user without synapse_email_smtp_pass', { synapse_email_enabled: true, synapse_email_notif_from: 'M <n@example.org>', synapse_email_smtp_user: 'mailer' }, '[synapse_email]', /an SMTP user needs its password \(synapse_email_smtp_pass\)/],
  ])('%s is refused', async (_n, vars, roles, message) => {
    expect((await buildErrors(vars, roles)).join('\n')).toMatch(message);
  });

  it('both together build', async () => {
    expect(await buildErrors({ synapse_admin_user: 'admin', synapse_admin_password: 'long-enough-password' }, '[synapse]')).toEqual([]);
  });
});
