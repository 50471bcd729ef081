// The whole playbooks/site.yml (postgres, synapse, nginx) of the lab inventory on one bench host:
// converged once (apt, untimed in the comparisons), then its no-op and --check, interleaved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { BenchLab } from './hosts.ts';
import { BENCH, log, RunFailed, tail, timed } from './proc.ts';
import { median, type SiteResult } from './results.ts';
import { BIN } from './tools.ts';

export async function measureSite(lab: BenchLab, host: string, work: string, reps: number): Promise<SiteResult> {
  const dir = join(work, 'site');
  mkdirSync(dir, { recursive: true });
  const inv = join(dir, 'hosts.yml');
  writeFileSync(inv, stringify({
    all: {
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: lab.keyFile,
        mxplay_known_hosts_file: lab.knownHostsFile,
        mxplay_master_secret: 'bench-master-secret-0123456789',
        proxy_tls_self_signed: true,
        synapse_package_source: 'debian',
        synapse_server_name: `${host}.lab.test`,
        synapse_public_baseurl: `https://${host}.lab.test/`,
        synapse_admin_user: 'admin',
        synapse_admin_password: 'bench-admin-password',
      },
      hosts: { [host]: { ansible_host: lab.host(host).ip } },
      children: { matrix: { hosts: { [host]: {} } }, nginx: { hosts: { [host]: {} } } },
    },
  }));
  const args = (extra: string[]) => [BIN, 'run', join(BENCH, '../playbooks/site.yml'), '-i', inv, '--json', ...extra];
  const one = async (extra: string[], what: string) => {
    const load1 = loadavg()[0]!;
    const r = await timed(process.execPath, args(extra), { env: { ...process.env, NO_COLOR: '1' } });
    if (r.code !== 0) throw new RunFailed(`site.yml ${what} on ${host}: exit ${r.code}\n${tail(r.stderr + '\n' + r.stdout)}`);
    const j = JSON.parse(r.stdout) as { hosts: { changes: unknown[] }[]; results: { changed: number; roundTrips: number }[] };
    return { ms: r.ms, load1, changes: j.hosts[0]!.changes.length, changed: j.results[0]!.changed, roundTrips: j.results[0]!.roundTrips };
  };
  log(`site.yml: first converge of postgres, synapse and nginx on ${host} (apt)`);
  const first = await one(['--yes'], 'first run');
  const res: SiteResult = { host, firstS: first.ms / 1000, firstChanged: first.changed, noop: [], check: [] };
  for (let i = 0; i < reps; i++) {
    const n = await one(['--yes'], 'no-op');
    if (n.changes !== 0) throw new RunFailed(`site.yml no-op on ${host} planned ${n.changes} changes`);
    res.noop.push({ ms: n.ms, roundTrips: n.roundTrips, load1: n.load1 });
    const c = await one(['--check', '-e', 'synapse_max_upload_size=100M'], '--check');
    // Synapse's media fragment and nginx's body size limit both follow it.
    if (c.changes !== 2) throw new RunFailed(`site.yml --check after one var on ${host} planned ${c.changes} changes, want 2`);
    res.check.push({ ms: c.ms, roundTrips: c.roundTrips, load1: c.load1 });
    log(`site.yml no-op ${(n.ms / 1000).toFixed(3)} s, --check ${(c.ms / 1000).toFixed(3)} s`);
  }
  return res;
}

export const SITE_NOTE = "the lab inventory's vars, Synapse on PostgreSQL behind nginx with TLS";

export function siteTable(site: SiteResult): string {
  const f = (xs: { ms: number }[]) => {
    const s = xs.map((x) => x.ms / 1000);
    return `${median(s).toFixed(3)} (${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)})`;
  };
  const rt = (xs: { roundTrips: number }[]) => [...new Set(xs.map((x) => x.roundTrips))].join(', ');
  return [
    '| run | mxplay s | SSH round trips |',
    '| --- | ---: | :---: |',
    `| first run (${site.firstChanged} changes, apt installs included) | ${site.firstS.toFixed(1)} | – |`,
    `| no-op | ${f(site.noop)} | ${rt(site.noop)} |`,
    `| \`--check\` after \`-e synapse_max_upload_size=100M\` (2 changes: media fragment, nginx body limit) | ${f(site.check)} | ${rt(site.check)} |`,
  ].join('\n');
}
