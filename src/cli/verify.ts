import { stdout } from 'node:process';
import type { HostWork } from '../engine/work.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { colourOn, palette } from '../ui/color.ts';
import { verifyReport } from '../verify/format.ts';
import { verifyTargets, type VerifyResult, type VerifyTarget } from '../verify/run.ts';
import { verifyTable } from '../verify/table.ts';
import { buildWorks } from './build-works.ts';
import type { RunInputs } from './run.ts';

/** Each host's checks, from the roles the playbook gives it; hosts without a selected one are left out. */
export function verifyTargetsOf(works: HostWork[]): VerifyTarget[] {
  return works
    .map((w) => ({
      host: w.host.name,
      address: w.params.address,
      resolve: w.verify?.resolve ?? 'dns',
      ...(w.verify?.caFile ? { caFile: w.verify.caFile } : {}),
      checks: w.plays.flatMap((p) => p.checks ?? []),
    }))
    .filter((t) => t.checks.some((c) => c.selected));
}

/** The checks' table (or nothing, with --json: the caller reports), every secret masked. */
export async function verifyWorks(works: HostWork[], secrets: SecretRegistry, o: { json: boolean }): Promise<VerifyResult[]> {
  const results = await verifyTargets(verifyTargetsOf(works));
  if (!o.json) {
    const p = palette(colourOn());
    stdout.write(secrets.mask(results.length ? verifyTable(results, { ok: p.green, bad: p.red }) : 'No role of this playbook declares a check for these hosts.\n'));
  }
  return results;
}

/** `mxplay verify`: no SSH; every check from this machine, as users and other servers meet the hosts. */
export async function verifyCommand(a: RunInputs & { json: boolean }): Promise<number> {
  const { works } = await buildWorks(a);
  const results = await verifyWorks(works, a.secrets, a);
  if (a.json) stdout.write(a.secrets.mask(JSON.stringify(verifyReport(results, a.secrets), null, 2)) + '\n');
  return results.every((r) => r.ok) ? 0 : 1;
}
