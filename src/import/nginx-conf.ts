// nginx's configuration as `nginx -T` prints it, parsed into directives with their file and line.

export interface Directive {
  name: string;
  args: string[];
  file: string;
  line: number;
  /** Last line of the directive (its closing brace for a block). */
  endLine: number;
  block?: Directive[];
}

interface Token {
  text: string;
  line: number;
  /** A quoted word: never a `{`, `}` or `;`. */
  quoted: boolean;
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '{' || c === '}' || c === ';') { out.push({ text: c, line, quoted: false }); i++; continue; }
    const start = line;
    let word = '';
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) { word += text[i + 1]; i += 2; continue; }
        if (text[i] === '\n') line++;
        word += text[i++];
      }
      i++;
      out.push({ text: word, line: start, quoted: true });
      continue;
    }
    while (i < text.length && !/[\s;{}]/.test(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) { word += text[i]! + text[i + 1]!; i += 2; continue; }
      word += text[i++];
    }
    out.push({ text: word, line: start, quoted: false });
  }
  return out;
}

/** One file's directives; `}` without its block or a block left open are reported as errors. */
export function parseNginx(text: string, file: string): Directive[] {
  const ts = tokens(text);
  let i = 0;
  const list = (depth: number): Directive[] => {
    const out: Directive[] = [];
    while (i < ts.length) {
      const t = ts[i]!;
      if (t.text === '}' && !t.quoted) {
        if (depth === 0) throw new Error(`${file}:${t.line}: unexpected }`);
        return out;
      }
      const d: Directive = { name: t.text, args: [], file, line: t.line, endLine: t.line };
      i++;
      while (i < ts.length && (ts[i]!.quoted || !['{', '}', ';'].includes(ts[i]!.text))) d.args.push(ts[i++]!.text);
      const end = ts[i];
      if (!end) throw new Error(`${file}:${d.line}: ${d.name} is not ended`);
      if (end.text === '{') {
        i++;
        d.block = list(depth + 1);
        if (ts[i]?.text !== '}') throw new Error(`${file}:${d.line}: the block of ${d.name} is not closed`);
      }
      d.endLine = ts[i]!.line;
      i++;
      out.push(d);
    }
    if (depth > 0) throw new Error(`${file}: a block is not closed`);
    return out;
  };
  return list(0);
}

/** `nginx -T`'s dump split into its files: `# configuration file PATH:` starts each. */
export function dumpFiles(dump: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  let cur: { path: string; lines: string[] } | undefined;
  for (const l of dump.split('\n')) {
    const m = /^# configuration file (.+):$/.exec(l);
    if (m) {
      if (cur) out.push({ path: cur.path, text: cur.lines.join('\n') });
      cur = { path: m[1]!, lines: [] };
    } else cur?.lines.push(l);
  }
  if (cur) out.push({ path: cur.path, text: cur.lines.join('\n') });
  return out;
}
