/** Where a bad value came from: every user-facing error names as many of these as it knows. */
export interface ErrorContext {
  file?: string;
  line?: number;
  host?: string;
  role?: string;
  key?: string;
}

/** Marks a UserError of any copy of this module (a role's bundle and the engine may hold two). */
const USER_ERROR = Symbol.for('mxplay.UserError');

/** An error caused by the user's input (inventory, playbook, vars, CLI): printed without a stack. */
export class UserError extends Error {
  readonly [USER_ERROR] = true;

  constructor(
    message: string,
    readonly context: ErrorContext = {},
  ) {
    super(message);
  }

  static override [Symbol.hasInstance](x: unknown): boolean {
    return x instanceof Error && (x as { [USER_ERROR]?: boolean })[USER_ERROR] === true;
  }

  override toString(): string {
    return formatUserError(this.message, this.context);
  }
}

export function formatUserError(message: string, c: ErrorContext): string {
  const where: string[] = [];
  if (c.file) where.push(c.line ? `${c.file}:${c.line}` : c.file);
  if (c.host) where.push(`host ${c.host}`);
  if (c.role) where.push(`role ${c.role}`);
  if (c.key) where.push(`key ${c.key}`);
  return where.length ? `${where.join(', ')}: ${message}` : message;
}

/** Several input errors found in one pass, reported together so the user fixes them at once. */
export class UserErrors extends Error {
  constructor(readonly errors: UserError[]) {
    super(errors.map((e) => e.toString()).join('\n'));
  }
}

/** Closest candidate by edit distance, for "did you mean" hints. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
