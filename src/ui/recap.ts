import type { HostResult } from '../engine/run.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { c } from './color.ts';

const colourOf = { ok: c.green, changed: c.yellow, failed: c.red, unreachable: c.red, skipped: c.cyan };
/** Roles' report lines (backup health): a failure they report is as red as a failed host. */
const noteColour = { ok: c.dim, warn: c.yellow, fail: c.red };

/** One line per host, Ansible style, then the causes of failures. */
export function renderRecap(results: HostResult[], seconds: number, secrets: SecretRegistry): string {
  const width = Math.max(...results.map((r) => r.host.length), 4);
  const lines = ['', c.bold('RECAP')];
  for (const r of results) {
    const counts = [
      `ok=${r.ok}`,
      `changed=${r.changed}`,
      `failed=${r.status === 'failed' ? 1 : 0}`,
      `unreachable=${r.status === 'unreachable' ? 1 : 0}`,
      `skipped=${r.status === 'skipped' ? 1 : 0}`,
      // Only when there were any: connections sshd closed before the handshake (MaxStartups), retried.
      ...(r.connectRetries ? [`retries=${r.connectRetries}`] : []),
    ].join('  ');
    lines.push(`  ${colourOf[r.status](r.host.padEnd(width))}  ${counts}  ${c.dim(`${r.seconds.toFixed(1)}s`)}`);
  }
  for (const r of results) {
    for (const n of r.notes ?? []) lines.push('', noteColour[n.level](`${r.host} ${n.text}`));
    if (r.skippedAtRun?.length) {
      lines.push('', c.dim(`${r.host}: planned but not run, their creates/unless holding by the time they came to run (counted ok): ${r.skippedAtRun.join(', ')}`));
    }
    if (r.message && r.status !== 'ok' && r.status !== 'changed') {
      lines.push('', c.red(`${r.host} ${r.status}:`), ...r.message.split('\n').map((l) => `  ${l}`));
    } else if (r.message) {
      lines.push('', c.yellow(`${r.host}: ${r.message}`));
    }
  }
  lines.push('', c.dim(`finished in ${seconds.toFixed(1)}s`));
  return secrets.mask(lines.join('\n'));
}
