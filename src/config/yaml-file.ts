import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { dirname, relative, resolve } from 'node:path';
import { CST, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Parser, visit, type Document, type Node } from 'yaml';
import { UserError } from '../errors.ts';
import { decryptVault, isVaultText } from './vault.ts';
import { ansibleYamlOptions } from './yaml11.ts';
import { expandTilde } from '../paths.ts';

/** A parsed YAML file that still knows the line of every key, for errors that point at file:line. */
export interface YamlFile {
  file: string;
  data: unknown;
  lineOf(path: (string | number)[]): number | undefined;
  /**
   * Every value this file's `!env`, `!file` and `!command` tags produced (no duplicates, no empty
   * string): secrets, for the caller to register for masking.
   */
  secrets: string[];
  /** Every value written `!unsafe` (Ansible's tag for text never templated): taken as it is. */
  literals: string[];
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function parseYaml(text: string, file: string): YamlFile {
  if (isVaultText(text)) return parseVaultedYaml(text, file);
  const lineCounter = new LineCounter();
  // YAML 1.1 with PyYAML's scalars, as Ansible reads every file (yes is true, 0600 is 384): see yaml11.ts.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, ...ansibleYamlOptions() });
  const shown = displayPath(file);
  const err = doc.errors[0];
  if (err) {
    // The parser notices a missing closing quote only at the end of the file: point at the opening one.
    const opened = err.code === 'MISSING_CHAR' ? unclosedQuoteOffset(text) : undefined;
    const line = lineCounter.linePos(opened ?? err.pos[0]).line;
    const message = opened !== undefined ? 'this quoted string is never closed' : err.message.split('\n')[0];
    // A scalar whose YAML 1.1 reading (Ansible's) is refused says why itself (yaml11.ts).
    if (err.code === 'TAG_RESOLVE_FAILED') throw new UserError(err.message.split('\n')[0]!, { file: shown, line });
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
  const literals = resolveUnsafeTags(doc, shown, lineCounter);
  const secrets = resolveSecretTags(doc, file, shown, lineCounter);
  return {
    file: shown,
    data: doc.toJS({ maxAliasCount: 1000 }),
    lineOf: (p) => lines.get(JSON.stringify(p.map((x) => (typeof x === 'number' ? x : String(x))))),
    secrets,
    literals,
  };
}

/**
 * A whole file encrypted with ansible-vault: its decrypted text, parsed. Every string in it is a
 * secret (it was encrypted for a reason); errors in it point at lines of the decrypted text.
 */
function parseVaultedYaml(text: string, file: string): YamlFile {
  const shown = displayPath(file);
  const plain = decryptVault(text, { file: shown }, 'this file');
  let y: YamlFile;
  try {
    y = parseYaml(plain, file);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${e.message} (line of the decrypted text of this vault file)`, e.context);
    throw e;
  }
  const secrets = new Set(y.secrets);
  const walk = (v: unknown) => {
    if (typeof v === 'string') { if (v !== '') secrets.add(v); }
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(y.data);
  return { ...y, secrets: [...secrets] };
}

/**
 * `!unsafe TEXT`, as Ansible reads it: the text as it is, a string never evaluated as Jinja (a
 * password or a Synapse setting holding `{{`). Only on a scalar; the tag is dropped once read.
 */
function resolveUnsafeTags(doc: Document, shown: string, lineCounter: LineCounter): string[] {
  const literals = new Set<string>();
  visit(doc, {
    Node(key, node) {
      if (node.tag !== '!unsafe') return;
      const line = node.range ? lineCounter.linePos(node.range[0]).line : undefined;
      if (key === 'key') throw new UserError('!unsafe is for values, not keys', { file: shown, line });
      if (!isScalar(node)) throw new UserError('!unsafe takes a string, not a list or mapping', { file: shown, line });
      node.value = String(node.value ?? '');
      node.tag = undefined;
      literals.add(node.value as string);
    },
  });
  return [...literals];
}

/** The tags a value can be read with from outside the file; each value they give is a secret. */
export const SECRET_TAGS = ['!env', '!file', '!command', '!vault'] as const;
type SecretTag = (typeof SECRET_TAGS)[number];
const isSecretTag = (t: string | undefined): t is SecretTag => (SECRET_TAGS as readonly string[]).includes(t ?? '');

/** One trailing newline (as `echo` and editors leave) is not part of the value. */
const chomp = (s: string) => s.replace(/\r?\n$/, '');

/**
 * Replaces each `!env NAME`, `!file PATH`, `!command CMD` and `!vault |` (Ansible Vault) scalar by
 * the value it names, once per node (an alias of it reuses the value; the same command twice in a
 * file runs once), and returns the values. Any other tag the YAML schema does not know (`!foo`) is
 * an error: kept as a string, as the yaml library does, it would be used as the value itself.
 */
function resolveSecretTags(doc: Document, file: string, shown: string, lineCounter: LineCounter): string[] {
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  for (const w of doc.warnings) {
    const tag = w.code === 'TAG_RESOLVE_FAILED' ? /^Unresolved tag: (.*)$/.exec(w.message)?.[1] : undefined;
    if (tag === undefined || isSecretTag(tag) || tag === '!unsafe') continue;
    const shownTag = tag.replace(/^tag:yaml\.org,2002:/, '!!');
    throw new UserError(`unknown YAML tag ${shownTag} (mxplay knows ${SECRET_TAGS.join(', ')}, !unsafe)`, { file: shown, line: lineAt(w.pos[0]) });
  }
  const secrets = new Set<string>();
  const commands = new Map<string, string>();
  visit(doc, {
    Node(key, node) {
      if (!isSecretTag(node.tag)) return;
      const tag = node.tag;
      const line = lineAt(node.range?.[0]);
      if (key === 'key') throw new UserError(`${tag} is for values, not keys`, { file: shown, line });
      if (!isScalar(node)) throw new UserError(`${tag} takes a string (${tagArgument[tag]}), not a list or mapping`, { file: shown, line });
      const arg = String(node.value ?? '').trim();
      if (!arg) throw new UserError(`${tag} needs ${tagArgument[tag]}`, { file: shown, line });
      const value = tag === '!env' ? fromEnv(arg, shown, line)
        : tag === '!vault' ? decryptVault(arg, { file: shown, line })
        : tag === '!file' ? fromFile(arg, file, shown, line)
        : commands.get(arg) ?? fromCommand(arg, file, shown, line);
      if (tag === '!command') commands.set(arg, value);
      node.value = value;
      if (value !== '') secrets.add(value);
    },
  });
  return [...secrets];
}

const tagArgument: Record<SecretTag, string> = {
  '!env': 'the name of an environment variable',
  '!file': 'the path of a file',
  '!command': 'a shell command',
  '!vault': 'an Ansible Vault text (ansible-vault encrypt_string)',
};

function fromEnv(name: string, shown: string, line: number | undefined): string {
  const v = process.env[name];
  if (v === undefined) throw new UserError(`!env ${name}: the environment variable ${name} is not set`, { file: shown, line });
  return v;
}

/** PATH relative to the YAML file's folder, `~` for the home folder. */
function fromFile(path: string, file: string, shown: string, line: number | undefined): string {
  const p = resolve(dirname(file), expandTilde(path));
  try {
    return chomp(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UserError(`!file ${path}: cannot read ${displayPath(p)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: shown, line });
  }
}

/**
 * The stdout of `/bin/sh -c CMD`, run in the YAML file's folder. From a terminal, stdin and stderr
 * are the terminal's, so a password manager can ask for its passphrase; otherwise stdin is empty
 * and stderr is kept for the error. The output never appears in an error.
 */
function fromCommand(cmd: string, file: string, shown: string, line: number | undefined): string {
  const interactive = isatty(0); // not process.stdin: that would open a stream on it
  const r = spawnSync('/bin/sh', ['-c', cmd], {
    cwd: dirname(file),
    encoding: 'utf8',
    stdio: [interactive ? 'inherit' : 'ignore', 'pipe', interactive ? 'inherit' : 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const fail = (why: string) => new UserError(`!command ${cmd}: ${why}`, { file: shown, line });
  if (r.error) throw fail(`could not run it (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`);
  if (r.status !== 0) {
    const how = r.status === null ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
    const err = (r.stderr ?? '').trim();
    throw fail(interactive ? `${how} (its stderr is above)` : err ? `${how}: ${err.length > 2000 ? '…' + err.slice(-2000) : err}` : `${how}, with nothing on stderr`);
  }
  return chomp(r.stdout);
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
