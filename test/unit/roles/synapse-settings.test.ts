// Synapse settings whose effect a lab cannot show: usage statistics sent to matrix.org (no internet
// here), and the suite of matrix.org's repository (not reachable from the lab). What each writes,
// built with the real engine from an inventory, no host contacted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree } from '../helpers.ts';

const BASE = {
  mxplay_master_secret: 'unit-master-secret-0123',
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
};
const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF-not-a-real-key\n-----END PGP PUBLIC KEY BLOCK-----\n';

async function resources(vars: Record<string, unknown>) {
  const cwd = writeTree(tempDir(), {
    'site.yml': '- hosts: all\n  roles: [synapse]\n',
    'inventory/hosts.yml': `all:\n  hosts:\n    m1: ${JSON.stringify({ ...BASE, ...vars })}\n`,
  });
  const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets: new SecretRegistry() });
  return works[0]!.plays[0]!.items.map((i) => i.resource);
}
const after = (r: { plan(s: never): unknown } | undefined) => (r!.plan({ kind: 'none' } as never) as { diff: { after: string } }).diff.after;

describe('synapse: report_stats and the matrix.org suite', () => {
  it.each([true, false])('synapse_report_stats %s: the debconf answer and the fragment say the same', async (on) => {
    const items = await resources({ synapse_package_source: 'debian', synapse_report_stats: on });
    const answer = items.find((x) => x.id === 'matrix-synapse/matrix-synapse/report-stats')!.plan({ value: null } as never) as { summary: string };
    expect(answer.summary).toBe(`matrix-synapse/report-stats = ${on}`);
    expect(after(items.find((x) => x.id === '/etc/matrix-synapse/conf.d/report_stats.yaml'))).toContain(`report_stats: ${on}\n`);
  });

  it("synapse_matrix_org_suite: the suite of matrix.org's apt source", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'matrix-org.asc'), KEY);
    const items = await resources({ synapse_package_source: 'matrix.org', synapse_matrix_org_keyring: join(dir, 'matrix-org.asc'), synapse_matrix_org_suite: 'trixie' });
    const source = after(items.find((x) => x.id === '/etc/apt/sources.list.d/matrix-org.sources'));
    expect(source).toMatch(/^URIs: https:\/\/packages\.matrix\.org\/debian\/$/m);
    expect(source).toMatch(/^Suites: trixie$/m);
  });
});
