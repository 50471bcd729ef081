import { stdout } from 'node:process';
import { buildWorks } from './build-works.ts';
import type { RunInputs } from './run.ts';

export type ListWhat = 'hosts' | 'tasks' | 'syntax';

/**
 * `run --list-hosts`, `--list-tasks`, `--syntax-check`: what ansible-playbook's flags of the same
 * names answer, from the same build `run` does (every input error found), without any connection.
 */
export async function listCommand(a: RunInputs, what: ListWhat): Promise<number> {
  const { playbook, works } = await buildWorks(a);
  const out: string[] = [`playbook: ${a.playbook}`];
  if (what === 'syntax') {
    const resources = works.reduce((n, w) => n + w.plays.reduce((m, p) => m + p.items.filter((i) => !i.resource.marker).length, 0), 0);
    out.push(`syntax ok: ${playbook.plays.length} play(s), ${works.length} host(s), ${resources} resource(s); nothing was contacted`);
  } else if (what === 'hosts') {
    for (const play of playbook.plays) {
      const hosts = works.filter((w) => w.plays.some((p) => p.play.index === play.index)).map((w) => w.host.name);
      out.push('', `  play #${play.index + 1} (${play.hosts}): ${play.name}`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${h}`));
    }
  } else {
    for (const w of works) {
      out.push('', `  ${w.host.name}:`);
      for (const p of w.plays) {
        const items = p.items.filter((i) => !i.resource.marker);
        out.push(`    play #${p.play.index + 1} (${p.play.hosts}): ${p.play.name}: ${items.length} resource(s)`);
        for (const i of items) out.push(`      [${i.role}] ${i.resource.type} ${i.resource.id}${i.resource.tags.length ? `  TAGS: ${[...new Set(i.resource.tags)].join(', ')}` : ''}`);
      }
    }
  }
  stdout.write(a.secrets.mask(out.join('\n')) + '\n');
  return 0;
}
