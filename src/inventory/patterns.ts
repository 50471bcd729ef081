import { UserError } from '../errors.ts';
import type { Inventory } from './inventory.ts';

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function matchTerm(inv: Inventory, term: string): Set<string> {
  if (term === 'all' || term === '*') return new Set(inv.hosts.keys());
  const group = inv.groups.get(term);
  if (group) return new Set(group);
  if (inv.hosts.has(term)) return new Set([term]);
  if (/[*?]/.test(term)) {
    const re = globToRegExp(term);
    const out = new Set<string>();
    for (const [g, members] of inv.groups) if (re.test(g)) members.forEach((h) => out.add(h));
    for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
    return out;
  }
  return new Set();
}

/**
 * Ansible host patterns: `a:b` or `a,b` union, `&x` intersection, `!x` exclusion, globs.
 * Returns hosts in inventory order.
 */
export function matchHosts(inv: Inventory, pattern: string): string[] {
  const terms = pattern.split(/[:,]/).map((t) => t.trim()).filter(Boolean);
  let selected = new Set<string>();
  const intersect: Set<string>[] = [];
  const exclude = new Set<string>();
  for (const t of terms) {
    if (t.startsWith('!')) matchTerm(inv, t.slice(1)).forEach((h) => exclude.add(h));
    else if (t.startsWith('&')) intersect.push(matchTerm(inv, t.slice(1)));
    else matchTerm(inv, t).forEach((h) => selected.add(h));
  }
  // As in Ansible, a pattern of only exclusions and intersections starts from all hosts ('!db').
  if (terms.length && terms.every((t) => t.startsWith('!') || t.startsWith('&'))) selected = new Set(inv.hosts.keys());
  for (const i of intersect) selected = new Set([...selected].filter((h) => i.has(h)));
  return [...inv.hosts.keys()].filter((h) => selected.has(h) && !exclude.has(h));
}

export function requireHosts(inv: Inventory, pattern: string, what: string): string[] {
  const hosts = matchHosts(inv, pattern);
  if (!hosts.length) {
    throw new UserError(`${what} '${pattern}' matches no host (hosts: ${[...inv.hosts.keys()].join(', ') || 'none'}; groups: ${[...inv.groups.keys()].join(', ')})`);
  }
  return hosts;
}
