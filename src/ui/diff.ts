import { createTwoFilesPatch } from 'diff';
import type { FileDiff } from '../resources/types.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { maskSecretAssignments } from '../secrets/secrets.ts';
import { c } from './color.ts';

/** A unified diff of a file change, secrets masked; colour is added only for terminals. */
export function unifiedDiff(d: FileDiff, secrets: SecretRegistry, colour = true): string {
  if (d.hidden) return d.after === null ? '(secret content removed)' : '(secret content changes; not shown)';
  if (d.before === null && d.after === null) return '';
  // Diffed in clear, masked line by line after: a secret that changes shows as a changed line.
  const patch = createTwoFilesPatch(
    d.before === null ? '/dev/null' : d.path,
    d.after === null ? '/dev/null' : d.path,
    d.before ?? '',
    d.after ?? '',
    '',
    '',
    { context: 3 },
  );
  const former = secrets.formerMasker(d.after ?? '');
  // Drop the "Index:/====" header lines the library adds; keep ---/+++ and hunks.
  const lines = patch
    .replace(/^(---|\+\+\+) (.*)\t$/gm, '$1 $2')
    .split('\n')
    .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))))
    .map((l, i) => {
      if (i < 2 || l === '') return secrets.mask(l);
      const body = l.slice(1);
      return l[0]! + maskSecretAssignments(secrets.mask(l.startsWith('-') ? former(body) : body));
    });
  while (lines.at(-1) === '') lines.pop();
  if (!colour) return lines.join('\n');
  return lines
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---') ? c.bold(l) : l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l,
    )
    .join('\n');
}
