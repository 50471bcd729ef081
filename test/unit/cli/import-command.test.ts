// `mxplay import`'s input errors: found before any connection, nothing written.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostVarsPath, importCommand } from '../../../src/cli/import.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree } from '../helpers.ts';

// A port nothing listens on: an error after these checks is a refused connection.
const INVENTORY = 'all:\n  hosts:\n    hs1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n';

function project(extra: Record<string, string> = {}) {
  const d = tempDir();
  writeTree(d, { 'inv/hosts.yml': INVENTORY, ...extra });
  return d;
}
const run = (d: string, o: { host?: string; roles?: string[] } = {}) =>
  importCommand({ inventory: join(d, 'inv'), host: o.host ?? 'hs1', ...(o.roles ? { roles: o.roles } : {}), force: false, secrets: new SecretRegistry() });

describe('mxplay import: input errors', () => {
  it.each([
    ['a host not in the inventory', {}, { host: 'nope' }, /--host nope: no such host in .*\(hosts: hs1\)/],
    ['a role the import does not write', {}, { roles: ['synapse', 'jitsi'] }, /--roles: jitsi cannot be imported \(the import writes postgres, synapse, coturn, nginx\)/],
    ['an existing host_vars file', { 'inv/host_vars/hs1.yml': 'mine: 1\n' }, {}, /host_vars\/hs1\.yml exists: the import writes a new file \(--force replaces it\); nothing was changed/],
    ['an existing host_vars folder', { 'inv/host_vars/hs1/a.yml': 'mine: 1\n' }, {}, /host_vars\/hs1 exists/],
  ])('refuses %s', async (_, files, o, message) => {
    const d = project(files);
    await expect(run(d, o)).rejects.toThrow(message);
    if ('inv/host_vars/hs1.yml' in files) expect(readFileSync(join(d, 'inv/host_vars/hs1.yml'), 'utf8')).toBe('mine: 1\n');
    else expect(existsSync(join(d, 'inv/host_vars/hs1.yml'))).toBe(false);
  });
});

describe('hostVarsPath', () => {
  it('is beside an inventory file, or inside an inventory folder', () => {
    const d = project();
    expect(hostVarsPath(join(d, 'inv'), 'hs1')).toBe(join(d, 'inv/host_vars/hs1.yml'));
    expect(hostVarsPath(join(d, 'inv/hosts.yml'), 'hs1')).toBe(join(d, 'inv/host_vars/hs1.yml'));
  });
});

describe('mxplay import --force', () => {
  it('does not read the host_vars file it replaces (its vault values need no password); other forms of it are refused', async () => {
    const vaulted = 'x: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n';
    const d = project({ 'inv/host_vars/hs1.yml': vaulted });
    // Past the inventory: it fails only at the connection (nothing listens on port 1).
    const forced = importCommand({ inventory: join(d, 'inv'), host: 'hs1', force: true, secrets: new SecretRegistry() });
    await expect(forced).rejects.toThrow(/unreachable/);
    expect(readFileSync(join(d, 'inv/host_vars/hs1.yml'), 'utf8')).toBe(vaulted);
    const both = project({ 'inv/host_vars/hs1.yml': 'a: 1\n', 'inv/host_vars/hs1.yaml': 'b: 1\n' });
    await expect(importCommand({ inventory: join(both, 'inv'), host: 'hs1', force: true, secrets: new SecretRegistry() })).rejects.toThrow(/hs1\.yaml exists: the import writes .*hs1\.yml, and a run would read both/);
  }, 30_000);
});
