import { isIP } from 'node:net';
import type { ServedPort } from 'mxplay';

/** The one table mxplay owns: rules of other tables (Docker's, the admin's) are left alone. */
export const TABLE = 'inet mxplay';

export interface Allow {
  protocol: 'tcp' | 'udp';
  port: number | readonly [number, number];
  /** Addresses or CIDR blocks; empty: from anywhere. */
  from: readonly string[];
  why: string;
}

export interface RulesetInput {
  /** What the host's roles serve (ServedPort with the roles that declared it), open to all. */
  served: readonly (ServedPort & { role: string })[];
  allow: readonly Allow[];
  /** Raw nft rules, before every accept of the role (a drop here wins). */
  extra: readonly string[];
  /** The address and port mxplay's SSH connection came from and to, read on the host; absent when not over SSH. */
  ssh?: { from: string; port: number };
}

/** A comment holds one line of plain text: no line break can end it and start a rule. */
const comment = (s: string) => s.replace(/[^\P{Cc}]|[\u2028\u2029]/gu, ' ').replace(/\s+/g, ' ').trim();
const portText = (p: number | readonly [number, number]) => (typeof p === 'number' ? String(p) : `${p[0]}-${p[1]}`);
const family = (a: string) => (isIP(a.split('/')[0]!) === 6 ? 'ip6' : 'ip');

function allowRules(a: Allow): string[] {
  const tail = `${a.protocol} dport ${portText(a.port)} accept`;
  if (!a.from.length) return [`${tail}`];
  // One rule per family: an ip and an ip6 address cannot share a set.
  return (['ip', 'ip6'] as const).flatMap((f) => {
    const here = a.from.filter((x) => family(x) === f);
    if (!here.length) return [];
    return [`${f} saddr ${here.length === 1 ? here[0] : `{ ${here.join(', ')} }`} ${tail}`];
  });
}

/**
 * /etc/nftables.conf: only table inet mxplay, replaced whole on each load (the create-then-delete
 * pair makes the delete succeed on a host without it). Input is dropped unless answered, local,
 * the ICMP a network needs, SSH from mxplay, or a port a role serves or the inventory opens;
 * forwarded and outgoing traffic is not filtered (Docker's published ports go through forward).
 */
export function renderRuleset(r: RulesetInput): string {
  const rules: string[] = [
    'ct state established,related accept',
    'ct state invalid drop',
    'iif "lo" accept',
    '# ping and the ICMP errors path MTU discovery needs',
    'icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } accept',
    '# IPv6 needs neighbour discovery (the ARP of IPv6) and packet-too-big to work at all',
    'icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } accept',
  ];
  if (r.extra.length) rules.push('# firewall_extra_rules', ...r.extra);
  if (r.ssh) {
    rules.push(
      '# SSH from where mxplay connected (read on the host from SSH_CONNECTION): a run cannot lock itself out by a port',
      `${family(r.ssh.from)} saddr ${r.ssh.from} tcp dport ${r.ssh.port} accept`,
    );
  }
  for (const p of r.served) rules.push(`# ${comment(`${p.role}: ${p.why}`)}`, `${p.protocol} dport ${portText(p.port)} accept`);
  for (const a of r.allow) rules.push(`# ${comment(`firewall_allow${a.why ? `: ${a.why}` : ''}`)}`, ...allowRules(a));
  return [
    '#!/usr/sbin/nft -f',
    '# Written by mxplay (role firewall). Only this table is replaced: other tables are left alone.',
    `table ${TABLE}`,
    `delete table ${TABLE}`,
    '',
    `table ${TABLE} {`,
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy drop;',
    ...rules.map((l) => `\t\t${l}`),
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** An extra rule stays one rule of the input chain: no line break, ';' or '#', braces balanced (sets). */
export function extraRuleProblem(rule: string): string | undefined {
  if (!rule.trim()) return 'an empty rule';
  if (/[\0\r\n;#\u2028\u2029]/.test(rule)) return "one rule: no line break, ';' or '#'";
  let depth = 0;
  for (const c of rule) {
    depth += c === '{' ? 1 : c === '}' ? -1 : 0;
    if (depth < 0) return 'a } without its {';
  }
  return depth ? 'a { without its }' : undefined;
}
