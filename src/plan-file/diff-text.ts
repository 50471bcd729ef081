import { createTwoFilesPatch } from 'diff';
import type { FileDiff } from '../resources/types.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { maskSecretAssignments, maskSecretLines } from '../secrets/secrets.ts';

// The texts of a file change as every output shows them, secrets masked. They belong to the plan
// record (PlanChange), not to ui/: the plan file stores them, and ui/ only colours them.

/**
 * A unified diff of a file change, secrets masked, no colour. Empty when there is nothing to show:
 * a file whose whole content is secret (the record says so instead), or no text on either side.
 */
export function diffText(d: FileDiff, secrets: SecretRegistry): string {
  if (d.hidden || (d.before === null && d.after === null)) return '';
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
  // Drop the "Index:/====" header lines the library adds; keep ---/+++ and hunks. The tab the
  // library ends ---/+++ with goes, on those two lines only: a content line keeps its own.
  const lines = secrets
    .untag(patch)
    .split('\n')
    .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))))
    .map((l, i) => (i < 2 ? secrets.mask(l.replace(/\t$/, '')) : l === '' ? l : l[0]! + maskSecretAssignments(l.slice(1))));
  while (lines.at(-1) === '') lines.pop();
  return lines.join('\n');
}

/**
 * The whole former and new texts of a file change (run --json gives them to machines): a replaced
 * secret masked where the new one stands, secret-looking assignments masked. The run's secrets go
 * first, whole: the key-based masking after it would cut a known secret short.
 */
export function fileTexts(d: FileDiff, secrets: SecretRegistry): { before: string | null; after: string | null } {
  return {
    before: d.before === null ? null : maskSecretLines(secrets.mask(d.after === null ? d.before : secrets.maskFormer(d.before, d.after))),
    after: d.after === null ? null : maskSecretLines(secrets.mask(d.after)),
  };
}
