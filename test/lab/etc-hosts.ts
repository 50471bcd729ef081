// Names instead of DNS: every lab host's /etc/hosts lists every lab host (as
// NAME and NAME.lab.test) inside a marked block. Only the block is ever
// rewritten, so lines a test or role adds to /etc/hosts survive.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fqdn } from './records.ts';

const BEGIN = '# BEGIN mxplay-lab hosts (managed by test/lab; edits inside this block are lost)';
const END = '# END mxplay-lab hosts';

const STATIC = `127.0.0.1\tlocalhost
::1\t\tlocalhost ip6-localhost ip6-loopback
ff02::1\t\tip6-allnodes
ff02::2\t\tip6-allrouters
`;

function block(hosts: Array<{ name: string; ip: string }>): string {
  const lines = [...hosts]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((h) => `${h.ip}\t${h.name} ${fqdn(h.name)}`);
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

/** The whole file, for a host about to boot for the first time. */
export async function writeEtcHosts(root: string, hosts: Array<{ name: string; ip: string }>): Promise<void> {
  await writeFile(join(root, 'etc/hosts'), `${STATIC}\n${block(hosts)}`);
}

/** Replaces only the block in a running host's /etc/hosts (through its
 * overlay mount, which the host sees at once). */
export async function updateEtcHostsBlock(root: string, hosts: Array<{ name: string; ip: string }>): Promise<void> {
  const path = join(root, 'etc/hosts');
  const old = await readFile(path, 'utf8').catch(() => STATIC);
  const start = old.indexOf(BEGIN);
  const end = old.indexOf(END, start);
  const next =
    start >= 0 && end >= 0
      ? old.slice(0, start) + block(hosts) + old.slice(end + END.length + 1)
      : `${old.replace(/\n?$/, '\n')}\n${block(hosts)}`;
  // Written in place (same inode): the host may have it open or bind-mounted.
  if (next !== old) await writeFile(path, next);
}

const ALIASES_BEGIN = '# BEGIN mxplay-lab aliases (extra names of a test\'s hosts, test/lab/fixture.ts)';
const ALIASES_END = '# END mxplay-lab aliases';

/** Writes (or replaces) a block of extra names, `IP<TAB>name name ...`, in a running host's
 * /etc/hosts. A block of its own: the hosts block above is rewritten whenever any lab host starts
 * (by whichever checkout's lab code starts it), and must not take these names with it. */
export async function writeAliasesBlock(root: string, entries: Array<{ ip: string; aliases: string[] }>): Promise<void> {
  const path = join(root, 'etc/hosts');
  const old = await readFile(path, 'utf8').catch(() => STATIC);
  const body = entries.filter((e) => e.aliases.length).map((e) => `${e.ip}\t${e.aliases.join(' ')}`);
  const text = `${ALIASES_BEGIN}\n${body.join('\n')}\n${ALIASES_END}\n`;
  const start = old.indexOf(ALIASES_BEGIN);
  const end = old.indexOf(ALIASES_END, start);
  const next =
    start >= 0 && end >= 0
      ? old.slice(0, start) + text + old.slice(end + ALIASES_END.length + 1)
      : `${old.replace(/\n?$/, '\n')}${text}`;
  if (next !== old) await writeFile(path, next);
}
