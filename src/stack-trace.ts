// An internal error's stack with the bundle's positions turned back into the sources' (its source
// map, read only then): the bundle is minified (fewer bytes to read at every start), so its own
// positions say little to whoever reads a bug report.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each `FILE:LINE:COL` of a stack frame in the file beside `map` (FILE.map), as its source's; other frames as they are. */
export function sourceMapped(stack: string, file = fileURLToPath(import.meta.url)): string {
  if (!file.endsWith('.cjs') || !stack.includes(file)) return stack;
  let map: SourceMap;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return stack; // no map beside it: the bundle's own positions
  }
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return stack.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g'), (whole, line: string, col: string) => {
    const e = map.findEntry(Number(line) - 1, Number(col) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (!e?.originalSource) return whole;
    const source = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : resolve(dirname(file), e.originalSource);
    return `${source}:${e.originalLine! + 1}:${e.originalColumn! + 1}`;
  });
}
