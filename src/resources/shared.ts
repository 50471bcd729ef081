// Values that thousands of resources hold alike, made once. A plan over 50 hosts × 600 resources
// holds 30,000 resources: an empty array each (notify, tags, users, ...) or a summary string built
// anew for each (five objects in V8 until it is flattened) adds megabytes for nothing.

/** The empty list resources share. Frozen: code that would add to it fails loudly, never silently shares. */
export const NONE: string[] = Object.freeze([]) as unknown as string[];

const seen = new Map<string, string>();
const KEEP = 10_000;

/** One copy of each summary ("create (0644 root:root)") for all the resources that show it. */
export function shared(s: string): string {
  const had = seen.get(s);
  if (had !== undefined) return had;
  if (seen.size >= KEEP) seen.clear();
  seen.set(s, s);
  return s;
}
