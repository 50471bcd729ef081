import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** What `mxplay inventory` printed. */
async function inventory(dir: string, ...args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  try {
    expect(await main(['inventory', '-i', join(dir, 'hosts.yml'), ...args])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => {
  delete process.env.MXP_TEST_SOURCED;
});

describe('mxplay inventory masks every secret, at any depth', () => {
  const secrets = {
    nested: 'nested-role-pw-1a2b3c', // postgres_users[].password: secret() inside a list of objects
    top: 'top-db-pw-4d5e6f', // synapse_db_password
    byName: 'by-key-name-7g8h9i', // no role knows it, its key names a secret
    sourced: 'from-env-0j1k2l', // read with !env under a key that does not look secret
    quoted: 'q"uo\\ted-3m4n5o', // printed escaped in JSON: the escaped form is masked too
  };
  const hosts = [
    'all:',
    '  vars:',
    '    postgres_users: [{ name: backup, password: ' + JSON.stringify(secrets.nested) + ' }]',
    '    synapse_db_password: ' + JSON.stringify(secrets.quoted),
    '    backup: { target: { api_token: ' + JSON.stringify(secrets.byName) + ' } }',
    '    plain_setting: !env MXP_TEST_SOURCED',
    '  hosts:',
    '    db1: { synapse_db_password: ' + JSON.stringify(secrets.top) + ' }',
    '    db2: { note: "db1 uses ' + secrets.top + '" }',
    '',
  ].join('\n');

  it.each([['yaml'], ['--json'], ['--host db1'], ['--host db2 --json']])('%s', async (form) => {
    process.env.MXP_TEST_SOURCED = secrets.sourced;
    const dir = writeTree(tempDir(), { 'hosts.yml': hosts });
    const out = await inventory(dir, ...(form === 'yaml' ? [] : form.split(' ')));
    expect(out).toContain('********');
    for (const s of Object.values(secrets)) {
      expect(out).not.toContain(s);
      expect(out).not.toContain(JSON.stringify(s).slice(1, -1));
    }
    expect(out).toContain('backup'); // the rest is shown
  });
});
