// Before timing, at each workload: the tools converge hosts to the same bytes, modes, owners and
// users. A host converged by one is a no-op for the other, both ways; with Ansible too at the base
// workload.
import { reset, settle } from './hosts.ts';
import { log, tail, timed } from './proc.ts';
import { ANSIBLE_ENV, BIN, ansibleRecap, runTool, type Ctx, type MxplayJson } from './tools.ts';
import { TENANTS_VAR, scaleOf } from './workload.ts';

export async function crossCheck(c: Ctx, withAnsible: boolean): Promise<string[]> {
  const notes: string[] = [];
  const n = scaleOf(c.tenants).resources;
  const converge = async (tool: 'mxplay' | 'ansible' | 'floor') => {
    await reset(c.lab, c.hosts);
    await runTool(tool, 'first', c);
    await settle(c.lab, c.hosts);
  };
  if (withAnsible) {
    log(`cross-check at ${n} resources on ${c.hosts.join(', ')}: Ansible converges, mxplay --check must plan 0 changes`);
    await converge('ansible');
    const m = await timed(process.execPath, [BIN, 'run', 'mxplay.yml', '-i', c.inventory, '--check', '--json', ...(c.tenants ? ['-e', `${TENANTS_VAR}=${c.tenants}`] : [])], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    const planned = (JSON.parse(m.stdout || '{"hosts":[]}') as MxplayJson).hosts;
    const left = planned.flatMap((p) => p.changes.map((x) => `${p.host}: ${x.type} ${x.id} (${x.summary})`));
    if (m.code !== 0 || left.length) throw new Error(`cross-check: after Ansible, mxplay plans changes:\n${left.join('\n')}\n${tail(m.stderr)}`);
    notes.push(`${n} resources: after an Ansible first run, \`mxplay run --check\` plans 0 changes`);

    log('cross-check: mxplay converges, ansible-playbook --check must report changed=0');
    await converge('mxplay');
    const a = await timed('ansible-playbook', ['-i', c.inventory, 'ansible.yml', '--check', '--diff'], { env: ANSIBLE_ENV });
    const recap = ansibleRecap(a.stdout);
    for (const h of c.hosts) {
      const x = recap.get(h);
      if (a.code !== 0 || !x || x.changed !== 0) throw new Error(`cross-check: after mxplay, Ansible --check: ${JSON.stringify(x)}\n${tail(a.stdout)}`);
    }
    notes.push(`${n} resources: after an mxplay first run, \`ansible-playbook --check --diff\` reports changed=0`);
  }

  log(`cross-check at ${n} resources: the floor converges, mxplay must be a no-op`);
  await converge('floor');
  const f = await runTool('mxplay', 'noop', c).catch((e: Error) => e);
  if (f instanceof Error) throw new Error(`cross-check: after the floor's first run, mxplay is no no-op: ${f.message}`);

  log(`cross-check at ${n} resources: mxplay converges, the floor's probe must find 0 changes`);
  await converge('mxplay');
  const g = await runTool('floor', 'noop', c).catch((e: Error) => e);
  if (g instanceof Error) throw new Error(`cross-check: after mxplay's first run, the floor finds changes: ${g.message}`);
  notes.push(`${n} resources: after the floor's first run mxplay's run is a no-op, and after mxplay's the floor's probe finds nothing to do`);
  return notes;
}
