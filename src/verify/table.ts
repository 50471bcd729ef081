import type { VerifyResult } from './run.ts';

/**
 * One block per host: OK or FAILED, what, where, and what it answered or why not. A detail too
 * long for the line goes on the next one. Ends with a count.
 */
export function verifyTable(results: VerifyResult[], paint: { ok: (s: string) => string; bad: (s: string) => string } = { ok: (s) => s, bad: (s) => s }, width = 150): string {
  const out: string[] = [];
  const hosts = [...new Set(results.map((r) => r.host))];
  const whatW = Math.max(4, ...results.map((r) => r.what.length));
  const whereW = Math.max(5, ...results.map((r) => r.where.length));
  for (const h of hosts) {
    out.push(h);
    for (const r of results.filter((x) => x.host === h)) {
      const mark = r.ok ? paint.ok('OK    ') : paint.bad('FAILED');
      const left = `  ${mark}  ${r.what.padEnd(whatW)}  ${r.where.padEnd(whereW)}`;
      out.push(left.length + 2 + r.detail.length <= width ? `${left}  ${r.detail}` : `${left.trimEnd()}\n          → ${r.detail}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  out.push('', failed
    ? `${failed} of ${results.length} check${results.length === 1 ? '' : 's'} failed on ${new Set(results.filter((r) => !r.ok).map((r) => r.host)).size} host(s).`
    : `${results.length} check${results.length === 1 ? '' : 's'} passed on ${hosts.length} host${hosts.length === 1 ? '' : 's'}.`);
  return out.join('\n') + '\n';
}
