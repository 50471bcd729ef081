import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { CST, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Parser, type Node } from 'yaml';
import { UserError } from '../errors.ts';

/** A parsed YAML file that still knows the line of every key, for errors that point at file:line. */
export interface YamlFile {
  file: string;
  data: unknown;
  lineOf(path: (string | number)[]): number | undefined;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function parseYaml(text: string, file: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const shown = displayPath(file);
  const err = doc.errors[0];
  if (err) {
    // The parser notices a missing closing quote only at the end of the file: point at the opening one.
    const opened = err.code === 'MISSING_CHAR' ? unclosedQuoteOffset(text) : undefined;
    const line = lineCounter.linePos(opened ?? err.pos[0]).line;
    const message = opened !== undefined ? 'this quoted string is never closed' : err.message.split('\n')[0];
    throw new UserError(`malformed YAML: ${message}`, { file: shown, line });
  }
  const lines = new Map<string, number>();
  const walk = (node: Node | null | undefined, path: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const p = [...path, String(pair.key.value)];
        if (pair.key.range) lines.set(JSON.stringify(p), lineCounter.linePos(pair.key.range[0]).line);
        walk(pair.value as Node, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = [...path, i];
        const n = item as Node;
        if (n?.range) lines.set(JSON.stringify(p), lineCounter.linePos(n.range[0]).line);
        walk(n, p);
      });
    }
  };
  walk(doc.contents as Node, []);
  return {
    file: shown,
    data: doc.toJS({ maxAliasCount: 1000 }),
    lineOf: (p) => lines.get(JSON.stringify(p.map((x) => (typeof x === 'number' ? x : String(x))))),
  };
}

/** Where the first quoted scalar that lacks its closing quote starts, if any. */
function unclosedQuoteOffset(text: string): number | undefined {
  let found: number | undefined;
  const closed = (t: CST.FlowScalar) =>
    t.type === 'double-quoted-scalar' ? /(^|[^\\])(\\\\)*"$/.test(t.source.slice(1)) : /'$/.test(t.source.slice(1));
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      for (const t of [item.key, item.value]) {
        if (found === undefined && (t?.type === 'double-quoted-scalar' || t?.type === 'single-quoted-scalar') && !closed(t)) found = t.offset;
      }
    });
  }
  return found;
}

export function loadYaml(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: displayPath(file) });
  }
  return parseYaml(text, file);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
