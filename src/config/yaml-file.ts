import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
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
    const line = lineCounter.linePos(err.pos[0]).line;
    throw new UserError(`malformed YAML: ${err.message.split('\n')[0]}`, { file: shown, line });
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
