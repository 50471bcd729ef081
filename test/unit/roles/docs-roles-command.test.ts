import { afterEach, describe, expect, it, vi } from 'vitest';
import { roleDocs, rolesCommand } from '../../../src/cli/roles.ts';
import { BUILTIN_ROLES } from '../../../src/roles/loader.ts';
import type { RoleDoc } from '../../../src/roles/docs.ts';

/** What rolesCommand writes on stdout. */
async function output(a: { name?: string; json: boolean }): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    expect(await rolesCommand(a)).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => vi.restoreAllMocks());

describe('mxplay roles postgres: nested keys, defaults, secrets (the built-in role)', () => {
  it('text: the header says the notation; each nested key has its path, type and flags', async () => {
    const text = await output({ name: 'postgres', json: false });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^postgres — PostgreSQL server from apt/);
    expect(text).toContain('a[].b key b of each item of list a');
    for (const line of [
      '  postgres_listen_addresses: string; default: "localhost"',
      '  postgres_users: list of object; default: []',
      '    postgres_users[].name: non-empty string; required',
      '    postgres_users[].password: string (at least 8 characters); required, secret',
      '    postgres_databases[].encoding: string; default: "UTF8"',
      '    postgres_hba[].tls: boolean; default: false',
    ]) expect(lines).toContain(line);
    // the description under its variable, a check's message under its key
    expect(text).toMatch(/ {2}postgres_users: list of object; default: \[\]\n {6}login roles to create, each with its password\n/);
    expect(text).toMatch(/ {4}postgres_hba\[\]\.address: string; required\n {8}checked: an IP address \(10\.0\.0\.5/);
    expect(text).not.toMatch(/\b(\w+) \| \1\b/);
  });

  it('--json: the same, as data (name, path, type, required, default, secret, description)', async () => {
    const docs = JSON.parse(await output({ name: 'postgres', json: true })) as RoleDoc[];
    expect(docs).toHaveLength(1);
    const { vars } = docs[0]!;
    expect(docs[0]).toMatchObject({ name: 'postgres', dir: expect.stringMatching(/roles\/postgres$/) });
    expect(vars.find((v) => v.path === 'postgres_users[].password')).toEqual({
      name: 'postgres_users', path: 'postgres_users[].password', type: 'string (at least 8 characters)', required: true, secret: true,
    });
    expect(vars.find((v) => v.path === 'postgres_users')).toEqual({
      name: 'postgres_users', path: 'postgres_users', type: 'list of object', required: false, default: [], secret: false,
      description: 'login roles to create, each with its password',
    });
    expect(vars.find((v) => v.path === 'postgres_databases[].lc_collate')).toMatchObject({ default: 'C', required: false });
  });
});

describe('mxplay roles synapse: lists of objects, maps, shared types', () => {
  it('names the nested keys of synapse_workers and synapse_password_policy, and reads the shared schemas', async () => {
    const [doc] = await roleDocs('synapse', [BUILTIN_ROLES]);
    const at = (path: string) => doc!.vars.find((v) => v.path === path);
    expect(at('synapse_workers')).toMatchObject({ type: 'list of object', default: [] });
    expect(at('synapse_workers[].settings')).toMatchObject({ type: 'map of any', default: {}, checks: [expect.stringMatching(/mxplay writes worker_app/)] });
    expect(at('synapse_workers[].type')).toMatchObject({ type: expect.stringMatching(/^generic \| media_repository \| /), required: true });
    expect(at('synapse_workers[].port')).toMatchObject({ type: 'port (1-65535)', required: false });
    expect(at('synapse_password_policy.minimum_length')).toMatchObject({ type: 'positive integer', default: 12 });
    expect(at('synapse_internal_address')).toMatchObject({ type: 'IP address', required: false });
    expect(at('synapse_redis_host')).toMatchObject({ type: 'host name or IP' });
    expect(at('synapse_redis_port')).toMatchObject({ type: 'port (1-65535)', default: 6379 });
    expect(at('synapse_registration')).toMatchObject({ type: 'closed | invite-token | open-email', default: 'invite-token' });
    expect(at('synapse_db_password')).toMatchObject({ secret: true, required: false, description: 'derived from mxplay_master_secret when unset' });
    expect(at('synapse_server_name')).toMatchObject({ required: true });
  });

  it('no role of the built-in ones shows a doubled union or a raw zod type name', async () => {
    for (const doc of await roleDocs(undefined, [BUILTIN_ROLES])) {
      for (const v of doc.vars) {
        expect(v.type, `${doc.name} ${v.path}`).not.toMatch(/\b(\w+) \| \1\b|pipe|prefault|ZodType|^custom$/);
      }
    }
  });

  it('without a name: each role on a line, and how to see its variables', async () => {
    const text = await output({ json: false });
    expect(text).toMatch(/^apache — /m);
    expect(text).toMatch(/^synapse — Synapse from apt/m);
    expect(text).toMatch(/mxplay roles NAME: the variables of one role/);
    expect(text).not.toMatch(/postgres_users/);
  });
});
