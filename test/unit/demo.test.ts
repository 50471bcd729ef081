// `npm start` (scripts/demo.ts): its pure parts. Which roles the lab hosts get, and the next steps
// it prints (its checks are `mxplay verify`, tested in test/unit/verify and the e2e suite). The run
// itself on the lab is not a CI test (minutes); it is run by hand.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  hostViews,
  labHostCount,
  matchHosts,
  needsBuild,
  nextSteps,
  parsePlays,
  type InventoryJson,
} from '../../scripts/demo.ts';

const site = parsePlays(readFileSync(new URL('../../playbooks/site.yml', import.meta.url), 'utf8'));

/** inventory/lab as `mxplay inventory -i lab --json` prints it (secrets masked). */
const LAB: InventoryJson = {
  lab1: {
    groups: ['all', 'matrix', 'nginx'],
    vars: {
      ansible_user: 'root',
      ansible_ssh_private_key_file: '/var/lib/mxplay-lab/id_ed25519',
      mxplay_known_hosts_file: '/var/lib/mxplay-lab/known_hosts',
      proxy_tls_self_signed: true,
      ansible_host: '10.231.0.11',
      synapse_server_name: 'lab1.lab.test',
      synapse_public_baseurl: 'https://lab1.lab.test/',
    },
  },
  lab2: { groups: ['all', 'ungrouped'], vars: { ansible_user: 'root', ansible_host: '10.231.0.12' } },
  lab3: { groups: ['all', 'ungrouped'], vars: { ansible_user: 'root', ansible_host: '10.231.0.13' } },
};

describe('what the lab gets', () => {
  it('gives lab1 the roles of site.yml its groups name, and lab2, lab3 none', () => {
    const hosts = hostViews(LAB, site);
    expect(hosts.map((h) => [h.name, h.ip, h.roles])).toEqual([
      ['lab1', '10.231.0.11', ['postgres', 'synapse', 'nginx']],
      ['lab2', '10.231.0.12', []],
      ['lab3', '10.231.0.13', []],
    ]);
    expect(labHostCount(hosts)).toBe(3);
  });

  it('reads host patterns as the CLI does: groups, hosts, all, unions, exclusions, intersections', () => {
    expect(matchHosts('all', LAB)).toEqual(['lab1', 'lab2', 'lab3']);
    expect(matchHosts('matrix', LAB)).toEqual(['lab1']);
    expect(matchHosts('lab2:lab3', LAB)).toEqual(['lab2', 'lab3']);
    expect(matchHosts('all:!ungrouped', LAB)).toEqual(['lab1']);
    expect(matchHosts('all:&nginx', LAB)).toEqual(['lab1']);
    expect(matchHosts('database', LAB)).toEqual([]);
  });

  it('refuses an inventory the lab cannot start: a host not named labN, or at another address', () => {
    expect(() => labHostCount([{ name: 'web1', ip: '10.231.0.11' }])).toThrow(/web1 is not a lab host/);
    expect(() => labHostCount([{ name: 'lab2', ip: '10.231.0.99' }])).toThrow(/lab2 has ansible_host 10.231.0.99, but the lab starts it at 10.231.0.12/);
    expect(labHostCount([{ name: 'lab2', ip: '10.231.0.12' }])).toBe(2);
  });
});

describe('next steps', () => {
  it('tells how to look (curl by name with the CA verify trusts, a browser, ssh), re-run, verify and tear down', () => {
    const lab = { ...LAB, lab1: { ...LAB.lab1!, vars: { ...LAB.lab1!.vars, mxplay_verify_ca_file: '/var/lib/mxplay-lab/hosts/lab1/root/etc/ssl/mxplay-selfsigned/ca.crt' } } };
    const text = nextSteps(hostViews(lab, site));
    const ca = '/var/lib/mxplay-lab/hosts/lab1/root/etc/ssl/mxplay-selfsigned/ca.crt';
    expect(text.split('\n')).toEqual([
      'Look for yourself:',
      `  curl --cacert ${ca} --resolve lab1.lab.test:443:10.231.0.11 https://lab1.lab.test/_matrix/client/versions`,
      `  in a browser on this machine: add "10.231.0.11 lab1.lab.test" to /etc/hosts and trust ${ca}, open https://lab1.lab.test/_matrix/client/versions`,
      '  ssh -F /dev/null -i /var/lib/mxplay-lab/id_ed25519 -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/mxplay-lab/known_hosts root@10.231.0.11',
      'Run it again (nothing left to do: 0 changed), and check again from here:',
      '  npx mxplay run site.yml -i lab',
      '  npx mxplay verify site.yml -i lab',
      'Stop the lab hosts (those of other test runs still going are left alone):',
      '  npm run lab -- down',
    ]);
  });

  it('without a proxy: only the ssh line, quoted where a shell needs it', () => {
    const text = nextSteps([{ name: 'lab2', ip: '10.231.0.12', groups: ['all'], roles: [], vars: { ansible_user: "o'brien" } }]);
    expect(text.split('\n').slice(0, 2)).toEqual(['Look for yourself:', "  ssh -F /dev/null -o StrictHostKeyChecking=yes 'o'\\''brien@10.231.0.12'"]);
  });
});

describe('needsBuild', () => {
  it('builds when dist/ is missing or older than a source, not otherwise', () => {
    expect(needsBuild(undefined, { path: 'src/a.ts', mtimeMs: 1 })).toBe('dist/ is missing');
    expect(needsBuild(100, { path: 'src/a.ts', mtimeMs: 200 })).toBe('dist/ is older than src/a.ts');
    expect(needsBuild(200, { path: 'src/a.ts', mtimeMs: 100 })).toBeUndefined();
    expect(needsBuild(200, undefined)).toBeUndefined();
  });
});
