import { defineRole, z, apt, ipOrCidr, port } from 'mxplay';
import { nftRuleset } from './nftables.ts';
import { extraRuleProblem } from './ruleset.ts';

const PORT_MESSAGE = 'a port (1-65535) or a range A-B of them with A <= B, like 50000-50100';
/** A port, or "A-B" as a range: one schema, so a mistake gets this message rather than a union's "Invalid input". */
const portOrRange = z.union([z.number(), z.string()]).transform((x, c): number | readonly [number, number] => {
  const m = typeof x === 'string' ? /^(\d{1,5})-(\d{1,5})$/.exec(x) : null;
  const [lo, hi] = typeof x === 'number' ? [x, x] : m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!ok(lo) || !ok(hi) || lo > hi) {
    c.addIssue({ code: 'custom', message: PORT_MESSAGE });
    return z.NEVER;
  }
  return typeof x === 'number' ? x : [lo, hi];
});

const allow = z.strictObject({
  port: portOrRange.describe('a port or a range A-B'),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  from: z.union([ipOrCidr.transform((a) => [a]), z.array(ipOrCidr)]).default([])
    .describe('an address or CIDR block, or a list of them; empty: from anywhere'),
  why: z.string().default('').describe('a few words, written as a comment beside the rule'),
});

/** The SSH port mxplay connects to, as the inventory says (the transport's own default is 22). */
function sshPort(hostVars: Readonly<Record<string, unknown>>): number {
  const p = Number(hostVars.ansible_port ?? hostVars.ansible_ssh_port ?? 22);
  return Number.isInteger(p) && p > 0 && p < 65536 ? p : 22;
}

export default defineRole({
  name: 'firewall',
  description: "nftables: input closed except the ports this host's roles serve, SSH, and the inventory's additions; changes confirmed over a new SSH connection or undone by the host",
  vars: z.object({
    firewall_allow: z.array(allow).default([])
      .describe('more ports to open, beyond those the roles serve: [{ port, protocol (tcp), from ([] = anywhere), why }]'),
    firewall_extra_rules: z.array(z.string().superRefine((s, c) => {
      const p = extraRuleProblem(s);
      if (p) c.addIssue({ code: 'custom', message: p });
    })).default([])
      .describe("raw nft rules, by design: placed verbatim in the input chain before every accept of the role (a drop here wins, even over SSH); nft -c checks them before anything is loaded"),
    firewall_ssh_port: port.optional().describe('SSH port opened to everyone; default: ansible_port, else 22. SSH from where mxplay connects is accepted anyway'),
    firewall_rollback_after: z.number().int().min(10).max(3600).default(60)
      .describe('seconds after which the host undoes a ruleset change no new SSH connection confirmed; the confirmation must connect within half of it'),
  }),
  ports: (v, ctx) => [{ protocol: 'tcp', port: v.firewall_ssh_port ?? sshPort(ctx.hostVars), why: 'SSH' }],
  tasks: (v, ctx) => [
    apt({ names: ['nftables'] }),
    nftRuleset({
      rules: {
        served: ctx.servedPorts,
        allow: v.firewall_allow.map((a) => ({ protocol: a.protocol, port: a.port, from: a.from, why: a.why })),
        extra: v.firewall_extra_rules,
      },
      rollbackAfter: v.firewall_rollback_after,
    }),
  ],
  verify: (v, ctx) => [{ what: 'SSH answers through the firewall', probe: { kind: 'tcp', port: v.firewall_ssh_port ?? sshPort(ctx.hostVars) } }],
});
