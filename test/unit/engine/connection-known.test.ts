// buildWork tells each host's connection as soon as it is known (buildRun reads those hosts'
// ssh_config meanwhile): before any role is loaded, once per host, in the order hosts are
// connected, with the become of the host's first play; nothing once an input error is known.
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import type { ConnectionParams } from '../../../src/transport/connection.ts';
import { tempDir, writeTree } from '../helpers.ts';

async function told(files: Record<string, string>): Promise<{ told: ConnectionParams[]; error?: string }> {
  const cwd = writeTree(tempDir(), files);
  const seen: ConnectionParams[] = [];
  try {
    await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), {
      extraVars: parseExtraVars([]),
      secrets: new SecretRegistry(),
      connectionKnown: (p) => seen.push(p),
    });
    return { told: seen };
  } catch (e) {
    if (!(e instanceof UserErrors)) throw e;
    return { told: seen, error: e.message };
  }
}

const INVENTORY = 'all:\n  hosts:\n    web1: { ansible_host: 10.0.0.1 }\n    web2: { ansible_host: "{{ \'10.0.0.\' ~ 2 }}" }\n    db1: { ansible_host: 10.0.0.3, ansible_user: admin }\n';

describe('each host connection, told while the rest is built', () => {
  it('once per host, in play order, templated, with the become of its first play', async () => {
    const r = await told({
      'inventory/hosts.yml': INVENTORY,
      'site.yml': '- hosts: db1\n  become: true\n  tasks: []\n- hosts: all\n  tasks: []\n',
    });
    expect(r.error).toBeUndefined();
    expect(r.told.map((p) => [p.name, p.ssh?.alias, p.become])).toEqual([
      ['db1', '10.0.0.3', true],
      ['web1', '10.0.0.1', false],
      ['web2', '10.0.0.2', false],
    ]);
  });

  it('before the roles load: a role that cannot be found is reported, its hosts were told', async () => {
    const r = await told({ 'inventory/hosts.yml': INVENTORY, 'site.yml': '- hosts: web1\n  roles: [no_such_role]\n' });
    expect(r.error).toMatch(/unknown role 'no_such_role'/);
    expect(r.told.map((p) => p.name)).toEqual(['web1']);
  });

  it('nothing more once a connection is in error, which is reported with the rest', async () => {
    const r = await told({
      'inventory/hosts.yml': `all:\n  hosts:\n    web1: {}\n    web2: { ansible_port: "{{ 'seven' ~ 'ty' }}" }\n    web3: {}\n`,
      'site.yml': '- hosts: all\n  roles: [no_such_role]\n',
    });
    expect(r.told.map((p) => p.name)).toEqual(['web1']);
    expect(r.error).toMatch(/ansible_port must be a port number/);
    expect(r.error).toMatch(/unknown role 'no_such_role'/);
  });
});
