import { createTwoFilesPatch } from 'diff';
import type { FileDiff } from '../resources/types.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { maskSecretAssignments } from '../secrets/secrets.ts';
import { c } from './color.ts';

/** A unified diff of a file change, secrets masked; colour is added only for terminals. */
export function unifiedDiff(d: FileDiff, secrets: SecretRegistry, colour = true): string {
  if (d.hidden) return d.after === null ? '(secret content removed)' : '(secret content changes; not shown)';
  if (d.before === null && d.after === null) return '';
  // Secrets are masked in the whole texts before diffing (a value with line breaks is masked as a
  // block), each by a token of its own: a line whose secret changes still shows as changed.
  const after = d.after === null ? null : secrets.tag(d.after);
  const before = d.before === null ? null : d.after === null ? secrets.tag(d.before) : secrets.maskFormer(secrets.tag(d.before), d.after, true);
  const patch = createTwoFilesPatch(
    d.before === null ? '/dev/null' : d.path,
    d.after === null ? '/dev/null' : d.path,
    before ?? '',
    after ?? '',
    '',
    '',
    { context: 3 },
  );
  // Drop the "Index:/====" header lines the library adds; keep ---/+++ and hunks.
  const lines = secrets.untag(patch)
    .replace(/^(---|\+\+\+) (.*)\t$/gm, '$1 $2')
    .split('\n')
    .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))))
    .map((l, i) => (i < 2 || l === '' ? secrets.mask(l) : l[0]! + maskSecretAssignments(l.slice(1))));
  while (lines.at(-1) === '') lines.pop();
  if (!colour) return lines.join('\n');
  return lines
    .map((l) =>
      l.startsWith('+++') || l.startsWith('---') ? c.bold(l) : l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l,
    )
    .join('\n');
}
