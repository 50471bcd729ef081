/**
 * import() of a module named at run time (a role, esbuild, tsx). bin/mxplay.js runs the bundle from
 * V8's code cache as a vm.Script, where import() has no loader behind it; bin lends one of a real
 * module under this symbol (bin/code-cache.js). From the sources, import() works as written.
 */
const LENT = Symbol.for('mxplay.importFile');

export function importFile<T = unknown>(specifier: string): Promise<T> {
  const lent = (globalThis as Record<symbol, unknown>)[LENT] as ((s: string) => Promise<T>) | undefined;
  return lent ? lent(specifier) : (import(specifier) as Promise<T>);
}
