// Fresh lab hosts for an e2e test file:
//
//   const lab = await labHosts(['e2e1', 'e2e2']);
//   afterAll(() => lab.stop());
//
// Each call boots new hosts (a host of the same name left over from an
// earlier file or a crashed run is replaced; one of another test run that is
// still going is an error) on addresses no other lab host uses, and returns
// what a test needs to reach them. The hosts belong to the current test run:
// its global teardown stops whatever a test did not.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hostPaths, KEY_FILE, KNOWN_HOSTS_FILE } from './config.ts';
import { writeAliasesBlock } from './etc-hosts.ts';
import type { RunResult } from './exec.ts';
import { startHosts, stopHost } from './host.ts';
import { ensureLabInfra } from './lab.ts';
import { fqdn } from './records.ts';
import { ssh, type SshOptions } from './ssh.ts';

export interface LabHost {
  name: string;
  ip: string;
  /** NAME.lab.test, also in every lab host's /etc/hosts */
  fqdn: string;
  /** milliseconds from boot to the first successful SSH login */
  bootToSshMs: number;
}

export interface LabHostsOptions {
  /** Boot with the options dockerd needs (and a /var/lib/docker bind dir). */
  docker?: boolean;
  /** Fixed addresses for some hosts; the rest get free ones from .100-.250. */
  ips?: Record<string, string>;
  /** More names for some hosts' addresses, in every lab host's /etc/hosts:
   * `{ fedacme: ['acme.test', 'chat.acme.test'] }` (public-looking names without DNS). */
  aliases?: Record<string, string[]>;
}

export interface LabFixture {
  hosts: LabHost[];
  keyFile: string;
  knownHostsFile: string;
  /** The host of that name; throws for a name not in this fixture. */
  host(name: string): LabHost;
  /** Runs a shell command on the host as root (or opts.user) over strict SSH. */
  ssh(name: string, command: string, opts?: SshOptions): Promise<RunResult>;
  /** Writes DIR/hosts.yml (Ansible YAML inventory) for these hosts and
   * returns its path. `extraVars` go into all.vars; `groups` become
   * all.children (group name -> host names). */
  writeInventory(
    dir: string,
    extraVars?: Record<string, unknown>,
    groups?: Record<string, string[]>,
  ): Promise<string>;
  /** Stops and removes the hosts. Safe to call twice. */
  stop(): Promise<void>;
}

export async function labHosts(names: string[], opts: LabHostsOptions = {}): Promise<LabFixture> {
  // Cheap when the global setup already did it (~0.1 s); lets a single test
  // file run under any vitest config.
  await ensureLabInfra();
  for (const [name, list] of Object.entries(opts.aliases ?? {})) {
    if (!names.includes(name)) throw new Error(`lab fixture: aliases for ${name}, which is not one of ${names.join(', ')}`);
    for (const a of list) if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(a)) throw new Error(`lab fixture: alias ${JSON.stringify(a)} of ${name} is not a host name`);
  }
  const started = await startHosts(names.map((name) => ({ name, ip: opts.ips?.[name], docker: opts.docker })));
  const hosts: LabHost[] = started.map((h) => ({ name: h.name, ip: h.ip, fqdn: fqdn(h.name), bootToSshMs: h.bootToSshMs }));
  if (opts.aliases) {
    // Every host of this fixture knows every alias of the fixture (written through the overlay
    // root, which the running host sees at once).
    const entries = started.map((h) => ({ ip: h.ip, aliases: opts.aliases?.[h.name] ?? [] }));
    try {
      await Promise.all(started.map((h) => writeAliasesBlock(hostPaths(h.name).root, entries)));
    } catch (e) {
      await Promise.allSettled(started.map((h) => stopHost(h.name)));
      throw e;
    }
  }

  const host = (name: string): LabHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab fixture: no host ${name} (have ${hosts.map((x) => x.name).join(', ')})`);
    return h;
  };
  let stopped = false;
  return {
    hosts,
    keyFile: KEY_FILE,
    knownHostsFile: KNOWN_HOSTS_FILE,
    host,
    ssh: (name, command, sshOpts) => ssh(host(name).ip, command, sshOpts),
    async writeInventory(dir, extraVars = {}, groups = {}) {
      await mkdir(dir, { recursive: true });
      const path = join(dir, 'hosts.yml');
      await writeFile(path, stringify(inventoryOf(hosts, extraVars, groups)));
      return path;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(hosts.map((h) => stopHost(h.name)));
    },
  };
}

function inventoryOf(hosts: LabHost[], extraVars: Record<string, unknown>, groups: Record<string, string[]>) {
  const known = new Set(hosts.map((h) => h.name));
  for (const [group, members] of Object.entries(groups)) {
    const unknown = members.filter((m) => !known.has(m));
    if (unknown.length) throw new Error(`lab fixture: group ${group} names unknown host(s) ${unknown.join(', ')}`);
  }
  return {
    all: {
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: KEY_FILE,
        mxplay_known_hosts_file: KNOWN_HOSTS_FILE,
        ...extraVars,
      },
      hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_host: h.ip }])),
      ...(Object.keys(groups).length
        ? {
            children: Object.fromEntries(
              Object.entries(groups).map(([g, members]) => [g, { hosts: Object.fromEntries(members.map((m) => [m, {}])) }]),
            ),
          }
        : {}),
    },
  };
}
