// A stack with the positions of built code turned back into the sources': the bundle is minified
// (fewer bytes to read at every start) and roles run compiled, so their own positions say little
// to whoever reads a bug report. Node's own source map support stays off: it parses every map as
// its module loads (about 10 ms of each start), where this reads a map only when a stack is printed.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A frame's `FILE:LINE:COL`, FILE a path or a file URL of built code (.cjs, .mjs, .js). */
const FRAME = /((?:file:\/\/)?\/[^\s():]*\.[cm]?js):(\d+):(\d+)/g;

function mapOf(file: string): SourceMap | undefined {
  const path = `${file}.map`;
  if (!existsSync(path)) return undefined;
  try {
    return new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return undefined; // an unreadable map: that file's own positions
  }
}

/** Each `FILE:LINE:COL` of a frame whose file has its map beside it (FILE.map), as its source's; other frames as they are. */
export function sourceMapped(stack: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  return stack.replace(FRAME, (whole, where: string, line: string, col: string) => {
    const file = where.startsWith('file:') ? fileURLToPath(where) : where;
    if (!maps.has(file)) maps.set(file, mapOf(file));
    const e = maps.get(file)?.findEntry(Number(line) - 1, Number(col) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (!e?.originalSource) return whole;
    const source = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : resolve(dirname(file), e.originalSource);
    return `${source}:${e.originalLine! + 1}:${e.originalColumn! + 1}`;
  });
}
