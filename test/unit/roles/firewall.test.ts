// The firewall role from tables: the ruleset rendered from served ports, inventory additions and the
// SSH session's address; its plan from probed states; its scripts parsed by /bin/sh; and the ports
// the engine collects from every role a host plays in the playbook, whatever the tags select.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { checkedPort, uniquePorts } from '../../../src/engine/ports.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { applyScript, confirmScript, planRuleset, PROBE, rollbackScript, type NftState } from '../../../roles/firewall/nftables.ts';
import { extraRuleProblem, renderRuleset, type RulesetInput } from '../../../roles/firewall/ruleset.ts';
import { tempDir, writeTree } from '../helpers.ts';

const rulesOf = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const NONE: RulesetInput = { served: [], allow: [], extra: [] };

describe('renderRuleset', () => {
  const always = [
    'table inet mxplay', 'delete table inet mxplay', 'table inet mxplay {', 'chain input {',
    'type filter hook input priority filter; policy drop;',
    'ct state established,related accept', 'ct state invalid drop', 'iif "lo" accept',
  ];
  it.each<[string, Partial<RulesetInput>, string[]]>([
    ['nothing served: only the basics', {}, []],
    ['a served port and a range', { served: [{ role: 'coturn', protocol: 'udp', port: 3478, why: 'TURN' }, { role: 'coturn', protocol: 'udp', port: [49152, 65535], why: 'relay' }] },
      ['udp dport 3478 accept', 'udp dport 49152-65535 accept']],
    ['SSH from the session address, v4', { ssh: { from: '10.0.0.1', port: 2222 } }, ['ip saddr 10.0.0.1 tcp dport 2222 accept']],
    ['SSH from the session address, v6', { ssh: { from: '2001:db8::1', port: 22 } }, ['ip6 saddr 2001:db8::1 tcp dport 22 accept']],
    ['allow from anywhere', { allow: [{ protocol: 'tcp', port: 5000, from: [], why: '' }] }, ['tcp dport 5000 accept']],
    ['allow from mixed families: one rule each', { allow: [{ protocol: 'udp', port: [7000, 7010], from: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], why: 'x' }] },
      ['ip saddr { 10.0.0.0/8, 192.0.2.7 } udp dport 7000-7010 accept', 'ip6 saddr 2001:db8::/32 udp dport 7000-7010 accept']],
    ['extra rules before the accepts of SSH and ports', { extra: ['tcp dport 22 drop'], ssh: { from: '10.0.0.1', port: 22 } },
      ['tcp dport 22 drop', 'ip saddr 10.0.0.1 tcp dport 22 accept']],
  ])('%s', (_name, input, expected) => {
    const rules = rulesOf(renderRuleset({ ...NONE, ...input }));
    expect(rules.slice(0, always.length)).toEqual(always);
    // ICMP and ICMPv6 (with neighbour discovery) always come next; then what the input adds, in order.
    expect(rules[always.length]).toMatch(/^icmp type \{ echo-request/);
    expect(rules[always.length + 1]).toMatch(/^icmpv6 type \{.*nd-neighbor-solicit, nd-neighbor-advert/);
    expect(rules.slice(always.length + 2, -2)).toEqual(expected);
    expect(rules.slice(-2)).toEqual(['}', '}']);
  });

  it('a hostile reason stays one comment line', () => {
    const text = renderRuleset({ ...NONE, served: [{ role: 'r', protocol: 'tcp', port: 1, why: 'a\n}\r\ntable ip evil {\u2028x' }], allow: [{ protocol: 'tcp', port: 2, from: [], why: 'b\nflush ruleset' }] });
    expect(rulesOf(text)).not.toContain('flush ruleset');
    expect(text).toContain('# r: a } table ip evil { x');
    expect(text).toContain('# firewall_allow: b flush ruleset');
  });

  it.each([
    ['tcp dport 22 drop', undefined],
    ['ip saddr { 10.0.0.1, 10.0.0.2 } tcp dport 25 accept', undefined],
    ['', 'an empty rule'],
    ['tcp dport 22 drop\nflush ruleset', "one rule: no line break, ';' or '#'"],
    ['accept; flush ruleset', "one rule: no line break, ';' or '#'"],
    ['accept } table ip x {', 'a } without its {'],
    ['ip saddr { 10.0.0.1', 'a { without its }'],
  ])('extra rule %j: %s', (rule, problem) => {
    expect(extraRuleProblem(rule)).toBe(problem);
  });
});

describe('planRuleset', () => {
  const o = { rules: { ...NONE, served: [{ role: 'coturn', protocol: 'udp' as const, port: 3478, why: 'TURN' }] }, rollbackAfter: 60 };
  const conf = renderRuleset({ ...o.rules, ssh: { from: '10.231.0.1', port: 22 } });
  const state = (s: Partial<NftState>): NftState => ({
    nft: true, exists: true, conf: Buffer.from(conf).toString('base64'), live: 'same', enabled: true, client: '10.231.0.1', port: '22', ...s,
  });
  it.each<[string, Partial<NftState>, string | null]>([
    ['converged', {}, null],
    ['no nft yet', { nft: false }, 'unresolved'],
    ['no file', { exists: false, conf: '' }, '+ ruleset;'],
    ['another SSH client: its address is the one kept', { client: '10.231.0.9' }, '~ ruleset;'],
    ['table not loaded', { live: 'absent' }, '~ table inet mxplay loaded;'],
    ['table changed by hand', { live: 'differs' }, '~ table inet mxplay changed since mxplay loaded it: loaded again;'],
    ['service disabled', { enabled: false }, '~ nftables.service enabled'],
  ])('%s', (_n, s, expected) => {
    const p = planRuleset(o, state(s));
    if (expected === null) return expect(p).toBeNull();
    if (expected === 'unresolved') return expect(p).toEqual({ unresolved: 'nft is not installed yet' });
    const c = p as Change;
    expect(`${c.action} ${c.summary}`.startsWith(expected)).toBe(true);
    expect(c.summary).toContain('confirmed over a new SSH connection, else undone by the host after 60s');
    expect(c.confirm).toEqual({ script: confirmScript(), timeoutMs: 30_000, failed: expect.stringContaining('restores its previous ruleset') });
    expect(c.diff!.after).toContain(`ip saddr ${s.client ?? '10.231.0.1'} tcp dport 22 accept`);
  });

  it('a client that is not an address (not over SSH) gets no SSH rule, never its text', () => {
    const c = planRuleset(o, state({ client: '', port: '' })) as Change;
    expect(c.diff!.after).not.toMatch(/saddr .* tcp dport 22/);
  });

  it.each([['apply', applyScript(conf, 60)], ['rollback', rollbackScript()], ['confirm', confirmScript()]])('the %s script parses with sh -n', (_n, script) => {
    const r = spawnSync('/bin/sh', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('the probe reads the SSH session', () => {
  // The parent shell stands for the login shell; the child, without the variable, for sudo's shell.
  const probe = (conn: string, childEnv = 'env -u SSH_CONNECTION') => {
    const r = spawnSync('/bin/sh', ['-c', `${childEnv} /bin/sh -s; exit $?`], { input: PROBE, encoding: 'utf8', env: { ...process.env, SSH_CONNECTION: conn } });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as NftState;
  };
  it.each([
    ['from its own environment', '10.231.0.1 40000 10.231.0.104 22', 'env', { client: '10.231.0.1', port: '22' }],
    ['from the login shell when sudo dropped it', '10.231.0.1 40000 10.231.0.104 2222', undefined, { client: '10.231.0.1', port: '2222' }],
    ['IPv6', '2001:db8::7 40000 2001:db8::1 22', undefined, { client: '2001:db8::7', port: '22' }],
    // cut to address characters ("d" of "id" is hex): not an address, so the plan writes no SSH rule for it
    ['hostile text stays JSON, globs unexpanded', '1.2.3.4"}$(id) * /* 22"\\', undefined, { client: '1.2.3.4d', port: '22' }],
  ])('%s', (_n, conn, childEnv, expected) => {
    expect(probe(conn, childEnv)).toMatchObject(expected);
  });
});

describe('checkedPort', () => {
  it.each<[number | [number, number], number | [number, number] | 'error']>([
    [443, 443], [[3478, 3478], 3478], [[49152, 65535], [49152, 65535]],
    [0, 'error'], [65536, 'error'], [1.5, 'error'], [[10, 9], 'error'], [Number.NaN, 'error'],
  ])('%j → %j', (port, expected) => {
    const p = { protocol: 'udp' as const, port, why: 'x' };
    if (expected === 'error') expect(() => checkedPort(p, 'coturn')).toThrow(/role declares an impossible served port udp\/.* \(x\)/);
    else expect(checkedPort(p, 'coturn').port).toEqual(expected);
  });
});

describe('uniquePorts', () => {
  it('each protocol/port once, both roles named, tcp before udp, by port', () => {
    expect(uniquePorts([
      { role: 'coturn', protocol: 'udp', port: 3478, why: 'TURN' },
      { role: 'firewall', protocol: 'tcp', port: 22, why: 'SSH' },
      { role: 'backup_repository', protocol: 'tcp', port: 22, why: 'borg' },
      { role: 'nginx', protocol: 'tcp', port: 443, why: 'https' },
      { role: 'coturn', protocol: 'udp', port: [49152, 65535], why: 'relay' },
    ])).toEqual([
      { role: 'firewall, backup_repository', protocol: 'tcp', port: 22, why: 'SSH' },
      { role: 'nginx', protocol: 'tcp', port: 443, why: 'https' },
      { role: 'coturn', protocol: 'udp', port: 3478, why: 'TURN' },
      { role: 'coturn', protocol: 'udp', port: [49152, 65535], why: 'relay' },
    ]);
  });
});

describe('ports collected from every role the host plays', () => {
  async function build(site: string, extra: string[] = [], select: { tags?: string[]; skipTags?: string[] } = {}) {
    const cwd = writeTree(tempDir(), {
      'site.yml': site,
      'inventory/hosts.yml': 'all:\n  vars:\n    coturn_realm: turn.example.org\n    coturn_shared_secret: s3cret-value-xyz\n    coturn_synapse_fragment: false\n  hosts:\n    h1: { ansible_port: 2222 }\n    h2: {}\n',
    });
    try {
      const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars(extra), secrets: new SecretRegistry(), ...select });
      return { works };
    } catch (e) {
      if (e instanceof UserErrors) return { errors: e.errors.map((x) => x.toString()) };
      throw e;
    }
  }
  /** The accept rules of the firewall's ruleset on a host, as it would be written (no SSH session). */
  const opened = (r: Awaited<ReturnType<typeof build>>, host: string) => {
    const fw = r.works!.find((w) => w.host.name === host)!.plays.flatMap((p) => p.items.map((i) => i.resource)).find((x: Resource) => x.type === 'nftables')!;
    const c = fw.plan({ nft: true, exists: false, conf: '', live: 'absent', enabled: false, client: '', port: '' }) as Change;
    return rulesOf(c.diff!.after!).filter((l) => / dport /.test(l));
  };

  it.each<[string, string, { tags?: string[]; skipTags?: string[] }, string[], string[]]>([
    ['coturn in another play, firewall selected alone by tag', '- hosts: h1\n  roles: [coturn]\n- hosts: all\n  roles: [firewall]\n', { tags: ['firewall'] }, [],
      ['tcp dport 2222 accept', 'tcp dport 3478 accept', 'udp dport 3478 accept', 'udp dport 49152-65535 accept']],
    ['coturn skipped by --skip-tags still has its ports open', '- hosts: h1\n  roles: [coturn, firewall]\n', { skipTags: ['coturn'] }, [],
      ['tcp dport 2222 accept', 'tcp dport 3478 accept', 'udp dport 3478 accept', 'udp dport 49152-65535 accept']],
    ['relay range and TLS from the vars', '- hosts: h1\n  roles: [coturn, firewall]\n', {},
      ['coturn_min_port=50000', 'coturn_max_port=50100', 'coturn_tls_cert=/etc/c.pem', 'coturn_tls_key=/etc/k.pem'],
      ['tcp dport 2222 accept', 'tcp dport 3478 accept', 'tcp dport 5349 accept', 'udp dport 3478 accept', 'udp dport 5349 accept', 'udp dport 50000-50100 accept']],
    ['postgres on localhost serves nothing beyond the host', '- hosts: h1\n  roles: [postgres, firewall]\n', {}, [], ['tcp dport 2222 accept']],
    ['postgres listening on all addresses', '- hosts: h1\n  roles: [postgres, firewall]\n', {}, ['{"postgres_listen_addresses":"*"}'], ['tcp dport 2222 accept', 'tcp dport 5432 accept']],
    ['another host\'s roles are not this host\'s', '- hosts: h2\n  roles: [coturn]\n- hosts: h1\n  roles: [firewall]\n', {}, [], ['tcp dport 2222 accept']],
    ['firewall_allow from the inventory', '- hosts: h1\n  roles: [firewall]\n', {}, ['firewall_allow=[{"port":"6000-6010","protocol":"udp","from":"192.0.2.0/24"}]'],
      ['tcp dport 2222 accept', 'ip saddr 192.0.2.0/24 udp dport 6000-6010 accept']],
    ['firewall_ssh_port moves the SSH port open to all', '- hosts: h1\n  roles: [firewall]\n', {}, ['firewall_ssh_port=2200'], ['tcp dport 2200 accept']],
  ])('%s', async (_n, site, select, extra, expected) => {
    const r = await build(site, extra, select);
    expect(r.errors).toBeUndefined();
    expect(opened(r, 'h1')).toEqual(expected);
  });

  it.each([
    ['firewall_allow=[{"port":70000}]', /firewall_allow\[0\]\.port: a port \(1-65535\) or a range/],
    ['firewall_allow=[{"port":22,"proto":"tcp"}]', /proto/],
    ['firewall_allow=[{"port":"9-1"}]', /firewall_allow\[0\]\.port: a port \(1-65535\) or a range/],
    ['firewall_rollback_after=5', /firewall_rollback_after/],
  ])('bad input %s is an error naming host, role and key', async (extra, key) => {
    const r = await build('- hosts: h1\n  roles: [firewall]\n', [extra]);
    expect(r.errors?.join('\n')).toMatch(key);
    expect(r.errors?.join('\n')).toMatch(/h1/);
    expect(r.errors?.join('\n')).toMatch(/firewall/);
  });
});
