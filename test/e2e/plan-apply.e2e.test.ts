// Saved plans on two fresh lab hosts, as a team works with them: one person makes the plan, a
// second reviews it (json, markdown, text), then it is applied exactly. A plan whose host drifted,
// or whose inventory changed, is refused before anything runs on any host. And no secret of the
// inventory (set, derived or given with -e) appears in any output or file of any of these runs.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { deriveSecret } from '../../src/secrets/secrets.ts';
import { labHosts, type LabFixture } from '../lab/index.ts';
import { changedOf, mxplay, type CliResult } from './helpers/mxplay.ts';

const MASTER = 'pln-master-secret-7c1e0f93ab52';
const PLN1_TURN = 'pln1-turn-secret-d48a2b6f0e';
const EXTRA_TURN = 'pln2-extra-turn-secret-93kq0';
// pln2 sets no TURN secret: the coturn role derives it from the master, as mxplay does.
const PLN2_DERIVED = deriveSecret(MASTER, 'pln2:turn_shared_secret');
const SECRETS = { MASTER, PLN1_TURN, EXTRA_TURN, PLN2_DERIVED };

const DEMO = '/etc/mxplay-plan-demo.conf';
const PLAYBOOK = `
- name: plan review demo
  hosts: all
  roles:
    - role: coturn
      vars: { coturn_synapse_fragment: false }
  tasks:
    - file: { path: ${DEMO}, content: "greeting = hello\\n" }
`;

interface PlanJson {
  format: string;
  inputs: { files: { path: string; sha256: string }[]; extraVars: unknown[]; secrets: string };
  summary: { changes: number; hosts: number; failed: number };
  hosts: {
    host: string;
    status: string;
    changes: { action: string; type: string; id: string; summary: string; diff?: string; secret?: boolean }[];
    resources: { type: string; id: string; state: string; planned: string }[];
  }[];
}

describe('saved plans: plan, review, apply exactly, refuse when stale, never a secret', () => {
  let lab: LabFixture;
  let project: string;
  let home: string;
  let tmp: string;
  const groupVars = () => join(project, 'inventory', 'e2e', 'group_vars', 'all.yml');
  /** Every output of every mxplay run of this file, for the secrets check at the end. */
  const outputs: { label: string; text: string }[] = [];
  const cli = async (...args: string[]): Promise<CliResult> => {
    // HOME and TMPDIR of their own: whatever mxplay writes on the control machine lands where the
    // secrets check can read it.
    const r = await mxplay(args, { cwd: project, env: { HOME: home, TMPDIR: tmp } });
    outputs.push({ label: `mxplay ${args.join(' ')} (stdout)`, text: r.stdout }, { label: `mxplay ${args.join(' ')} (stderr)`, text: r.stderr });
    return r;
  };
  const readPlan = async (name: string) => JSON.parse(await readFile(join(project, name), 'utf8')) as PlanJson;
  const quotaOn = async (h: string) => (await lab.ssh(h, "grep '^user-quota=' /etc/turnserver.conf")).stdout.trim();
  const demoOn = async (h: string) => (await lab.ssh(h, `cat ${DEMO}`)).stdout;
  const setQuota = (n: number) => writeFile(groupVars(), stringify({ mxplay_master_secret: MASTER, coturn_user_quota: n }));

  beforeAll(async () => {
    lab = await labHosts(['pln1', 'pln2']);
    project = await mkdtemp(join(tmpdir(), 'mxplay-plan-'));
    home = await mkdtemp(join(tmpdir(), 'mxplay-plan-home-'));
    tmp = await mkdtemp(join(tmpdir(), 'mxplay-plan-tmp-'));
    const inv = join(project, 'inventory', 'e2e');
    await lab.writeInventory(inv, { coturn_realm: 'turn.lab.test' });
    await mkdir(join(inv, 'group_vars'), { recursive: true });
    await mkdir(join(inv, 'host_vars'), { recursive: true });
    await setQuota(12);
    await writeFile(join(inv, 'host_vars', 'pln1.yml'), stringify({ coturn_shared_secret: PLN1_TURN }));
    await writeFile(join(project, 'site.yml'), PLAYBOOK);
  });

  afterAll(async () => {
    await lab?.stop();
    await Promise.all([project, home, tmp].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('plan -o plan.json keeps every change with its diff and a state fingerprint of every resource', async () => {
    const r = await cli('plan', 'site.yml', '-i', 'e2e', '-o', 'plan.json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Plan: \d+ changes on 2 hosts; written to plan\.json/m);
    const plan = await readPlan('plan.json');
    expect(plan.format).toBe('mxplay-plan/1');
    expect(plan.inputs.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['site.yml', 'inventory/e2e/hosts.yml', 'inventory/e2e/group_vars/all.yml', 'inventory/e2e/host_vars/pln1.yml']),
    );
    expect(plan.hosts.map((h) => [h.host, h.status])).toEqual([['pln1', 'planned'], ['pln2', 'planned']]);
    for (const h of plan.hosts) {
      const line = (c: { action: string; type: string; id: string }) => `${c.action} ${c.type} ${c.id}`;
      expect(h.changes.map(line)).toEqual(expect.arrayContaining(['+ apt coturn', '? template /etc/turnserver.conf', `+ file ${DEMO}`]));
      expect(h.changes.find((c) => c.id === DEMO)!.diff).toContain('+greeting = hello');
      // Unchanged resources too: their state must still be the same at apply.
      expect(h.resources.length).toBeGreaterThanOrEqual(h.changes.length);
      for (const res of h.resources) expect(res.state).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('a reviewer reads the same plan as markdown (collapsible per host, fenced diffs) and as text', async () => {
    const md = await cli('show', 'plan.json', '--format', 'markdown');
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^### mxplay plan: \d+ changes on 2 hosts$/m);
    expect(md.stdout).toMatch(/^\| pln1 \| .*`\+` \d.*\|$/m);
    expect(md.stdout).toMatch(/<details><summary>pln1 — \d+ changes<\/summary>/);
    expect(md.stdout).toMatch(/<details><summary>pln2 — \d+ changes<\/summary>/);
    expect(md.stdout).toContain(`\`+\` file \`${DEMO}\` (tasks)`);
    expect(md.stdout).toMatch(/```diff\n--- \/dev\/null\n\+\+\+ \/etc\/mxplay-plan-demo\.conf\n@@ -0,0 \+1,1 @@\n\+greeting = hello\n```/);
    const text = await cli('show', 'plan.json');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^pln1 {2}\d+ changes$/m);
    expect(text.stdout).toContain('  + apt coturn  [coturn]');
    expect(text.stdout).toContain('      +greeting = hello');
  });

  it('apply plan.json converges both hosts with their secrets re-rendered, and a second run changes nothing', async () => {
    const r = await cli('apply', 'plan.json', '--yes', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedOf(r, 'pln1')).toBeGreaterThanOrEqual(3);
    expect(changedOf(r, 'pln2')).toBeGreaterThanOrEqual(3);
    for (const h of ['pln1', 'pln2']) {
      expect(await demoOn(h)).toBe('greeting = hello\n');
      const s = await lab.ssh(h, 'systemctl is-active coturn');
      expect(s.stdout.trim()).toBe('active');
    }
    // The plan held no secret; the apply rendered each host's own from the inventory.
    expect((await lab.ssh('pln1', "grep '^static-auth-secret=' /etc/turnserver.conf")).stdout.trim()).toBe(`static-auth-secret=${PLN1_TURN}`);
    expect((await lab.ssh('pln2', "grep '^static-auth-secret=' /etc/turnserver.conf")).stdout.trim()).toBe(`static-auth-secret=${PLN2_DERIVED}`);

    const again = await cli('run', 'site.yml', '-i', 'e2e', '--yes', '--json');
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedOf(again, 'pln1')).toBe(0);
    expect(changedOf(again, 'pln2')).toBe(0);

    // A plan is applied once: the hosts are no longer in the state it was made from.
    const twice = await cli('apply', 'plan.json', '--yes');
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`pln1: file ${DEMO} changed on the host since the plan was made`);
  });

  it('a file edited on one host after planning: apply refuses naming host and resource, and changes no host', async () => {
    await setQuota(20);
    const p = await cli('plan', 'site.yml', '-i', 'e2e', '-o', 'plan2.json');
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = await readPlan('plan2.json');
    for (const h of plan.hosts) {
      const ch = h.changes.find((c) => c.id === '/etc/turnserver.conf')!;
      expect(ch.action).toBe('~');
      expect(ch.diff).toContain('-user-quota=12');
      expect(ch.diff).toContain('+user-quota=20');
    }
    await lab.ssh('pln2', `echo 'edited by hand' > ${DEMO}`);

    const r = await cli('apply', 'plan2.json', '--yes');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('refusing to apply plan2.json');
    expect(r.stderr).toContain(`pln2: file ${DEMO} changed on the host since the plan was made`);
    expect(r.stderr).not.toMatch(/pln1: /);
    // Nothing ran anywhere: pln1, whose part of the plan still held, was not changed either.
    expect(await quotaOn('pln1')).toBe('user-quota=12');
    expect(await quotaOn('pln2')).toBe('user-quota=12');
    expect(await demoOn('pln2')).toBe('edited by hand\n');
  });

  it('an inventory edited after planning: apply refuses naming the file; restored, the same plan applies', async () => {
    const p = await cli('plan', 'site.yml', '-i', 'e2e', '-o', 'plan3.json');
    expect(p.code, p.stdout + p.stderr).toBe(0);
    await setQuota(30);
    const r = await cli('apply', 'plan3.json', '--yes');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('inventory/e2e/group_vars/all.yml changed since the plan was made');
    expect(await quotaOn('pln1')).toBe('user-quota=12');
    expect(await demoOn('pln2')).toBe('edited by hand\n');

    // The digest is of the content: the file as it was planned from makes the plan valid again.
    await setQuota(20);
    const ok = await cli('apply', 'plan3.json', '--yes');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(await quotaOn('pln1')).toBe('user-quota=20');
    expect(await quotaOn('pln2')).toBe('user-quota=20');
    expect(await demoOn('pln2')).toBe('greeting = hello\n');
  });

  it('a secret given with -e is not in the plan: apply needs it again and refuses another value', async () => {
    const p = await cli('plan', 'site.yml', '-i', 'e2e', '--limit', 'pln2', '-e', `coturn_shared_secret=${EXTRA_TURN}`, '-o', 'plan-e.json');
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = await readPlan('plan-e.json');
    expect(plan.inputs.extraVars).toEqual([{ key: 'coturn_shared_secret', secret: true }]);
    const ch = plan.hosts[0]!.changes.find((c) => c.id === '/etc/turnserver.conf')!;
    expect(ch.diff).toContain('-static-auth-secret=********');
    expect(ch.diff).toContain('+static-auth-secret=********');

    const without = await cli('apply', 'plan-e.json', '--yes');
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('-e coturn_shared_secret=');
    const wrong = await cli('apply', 'plan-e.json', '--yes', '-e', 'coturn_shared_secret=not-the-planned-one');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('a secret value (in the inventory, an -e secret or the master secret) changed since the plan was made');
    expect((await lab.ssh('pln2', "grep '^static-auth-secret=' /etc/turnserver.conf")).stdout.trim()).toBe(`static-auth-secret=${PLN2_DERIVED}`);

    const ok = await cli('apply', 'plan-e.json', '--yes', '-e', `coturn_shared_secret=${EXTRA_TURN}`);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect((await lab.ssh('pln2', "grep '^static-auth-secret=' /etc/turnserver.conf")).stdout.trim()).toBe(`static-auth-secret=${EXTRA_TURN}`);
  });

  it('a host that cannot be reached is in the plan as unreachable, and such a plan is not applied', async () => {
    // The same hosts plus one that is down (no lab host has that address), in an inventory of its own.
    await writeFile(join(project, 'with-gone.yml'), stringify({
      all: {
        vars: { ansible_user: 'root', ansible_ssh_private_key_file: lab.keyFile, mxplay_known_hosts_file: lab.knownHostsFile,
          coturn_realm: 'turn.lab.test', mxplay_master_secret: MASTER },
        hosts: { pln1: { ansible_host: lab.host('pln1').ip, coturn_shared_secret: PLN1_TURN }, gone: { ansible_host: '10.231.0.254', mxplay_connect_timeout: 3 } },
      },
    }));
    const p = await cli('plan', 'site.yml', '-i', 'with-gone.yml', '-o', 'plan-gone.json');
    expect(p.code, p.stdout + p.stderr).toBe(1);
    expect(p.stdout).toMatch(/, 1 host\(s\) failed or unreachable; written to plan-gone\.json/);
    const plan = await readPlan('plan-gone.json');
    expect(plan.hosts.map((h) => [h.host, h.status])).toEqual([['pln1', 'planned'], ['gone', 'unreachable']]);
    const md = await cli('show', 'plan-gone.json', '--format', 'markdown');
    expect(md.stdout).toMatch(/^\| gone \| \*\*unreachable\*\*: .*10\.231\.0\.254.* \|$/m);

    const r = await cli('apply', 'plan-gone.json', '--yes');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the plan has hosts that could not be planned (gone: unreachable): make a new plan, with --limit to leave a host out');
  });

  it('no secret value appears in any output or file of a full run: plans in every format, check, diff, apply', async () => {
    // Plans in every format, to files and to stdout, then a dry run, a run with diffs that puts
    // pln2's derived secret back over the -e one, and a run with nothing to do.
    for (const f of ['plan-all.json', 'plan-all.md', 'plan-all.txt']) {
      const r = await cli('plan', 'site.yml', '-i', 'e2e', '-o', f);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    for (const fmt of ['json', 'markdown', 'text']) {
      expect((await cli('plan', 'site.yml', '-i', 'e2e', '--format', fmt)).code).toBe(0);
      expect((await cli('show', 'plan-all.json', '--format', fmt)).code).toBe(0);
    }
    const check = await cli('run', 'site.yml', '-i', 'e2e', '--check', '--json');
    expect(check.code, check.stderr).toBe(0);
    const diff = await cli('run', 'site.yml', '-i', 'e2e', '--diff', '--yes');
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    // The secret line was shown changing, masked: the check below is not passing on empty output.
    expect(diff.stdout).toMatch(/^\[pln2\] template \/etc\/turnserver\.conf$/m);
    expect(diff.stdout).toContain('-static-auth-secret=********');
    expect(diff.stdout).toContain('+static-auth-secret=********');
    expect((await lab.ssh('pln2', "grep '^static-auth-secret=' /etc/turnserver.conf")).stdout.trim()).toBe(`static-auth-secret=${PLN2_DERIVED}`);
    const last = await cli('run', 'site.yml', '-i', 'e2e', '--yes');
    expect(last.code, last.stdout + last.stderr).toBe(0);

    // Every file the runs could have written on the control machine: the project (plans), and the
    // HOME and TMPDIR the runs had.
    const files = async (dir: string): Promise<string[]> =>
      (await readdir(dir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    const written = [...(await files(project)), ...(await files(home)), ...(await files(tmp))];
    expect(written.map((f) => f.slice(project.length + 1))).toEqual(
      expect.arrayContaining(['plan.json', 'plan2.json', 'plan3.json', 'plan-e.json', 'plan-gone.json', 'plan-all.json', 'plan-all.md', 'plan-all.txt']),
    );
    const inventoryFiles = written.filter((f) => f.startsWith(join(project, 'inventory')) || f.endsWith('with-gone.yml'));
    const everything = [
      ...outputs,
      ...(await Promise.all(written.filter((f) => !inventoryFiles.includes(f)).map(async (f) => ({ label: f, text: await readFile(f, 'utf8') })))),
    ];
    expect(everything.length).toBeGreaterThan(50);
    const leaks = everything.flatMap(({ label, text }) =>
      Object.entries(SECRETS).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${label}`),
    );
    expect(leaks).toEqual([]);
  });
});
