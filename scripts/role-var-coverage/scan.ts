// Which test files SET a role variable: a key of that name in an object literal (an inventory, a vars
// object, -e data), a YAML key or an INI/extra-vars `name=value` in a string the test writes. Read
// with the TypeScript parser, so that a name inside an assertion (expect(...) and its matchers), a
// test's title or a log line does not count: those mention a variable, they do not set it.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** Calls whose arguments are never settings: assertions and their matchers, log lines. */
const ASSERTION_CALLS = new Set([
  'expect', 'log', 'warn', 'info', 'debug',
  'toEqual', 'toStrictEqual', 'toMatchObject', 'toContain', 'toContainEqual', 'toHaveProperty', 'toMatch',
  'toThrow', 'toThrowError', 'objectContaining', 'arrayContaining', 'stringContaining',
]);
/**
 * The tests' helpers that build a role only to return its input errors (`errors(role, vars)`): what
 * they are given checks a refusal, and exercises nothing.
 */
const REFUSAL_HELPERS = new Set(['errors', 'buildErrors']);
/** Calls whose first argument is a title, not a setting (their callback is the test itself). */
const TITLE_CALLS = new Set(['it', 'test', 'describe', 'skip', 'only']);

function calleeName(call: ts.CallExpression): string | undefined {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

/** The title of it(...)/describe(...)/it.each(...)(...) when it is a literal. */
function testTitle(call: ts.CallExpression): string | undefined {
  let callee: ts.Expression = call.expression;
  if (ts.isCallExpression(callee)) callee = callee.expression; // it.each(table)(title, fn)
  const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? calleeRoot(callee) : undefined;
  if (name === undefined || !TITLE_CALLS.has(name)) return undefined;
  const t = call.arguments[0];
  return t && (ts.isStringLiteral(t) || ts.isNoSubstitutionTemplateLiteral(t)) ? t.text : undefined;
}

function calleeRoot(e: ts.PropertyAccessExpression): string | undefined {
  let x: ts.Expression = e;
  while (ts.isPropertyAccessExpression(x)) x = x.expression;
  return ts.isIdentifier(x) ? x.text : undefined;
}

/** Inside an assertion (or a log line), the title of a test, or a block titled as one of `skipBlocks`. */
function inNonSetting(node: ts.Node, skipBlocks: readonly string[]): boolean {
  let child: ts.Node = node;
  for (let n: ts.Node | undefined = node.parent; n; child = n, n = n.parent) {
    if (!ts.isCallExpression(n)) continue;
    const title = testTitle(n);
    if (title !== undefined && skipBlocks.includes(title)) return true;
    const name = calleeName(n);
    if (name !== undefined && (ASSERTION_CALLS.has(name) || REFUSAL_HELPERS.has(name))) return true;
    if (name !== undefined && TITLE_CALLS.has(name) && n.arguments[0] === child) return true;
    // expect(x).toBe(...): the matcher's receiver is an expect() call.
    if (ts.isPropertyAccessExpression(n.expression) && chainStartsWithExpect(n.expression.expression)) return true;
  }
  return false;
}

function chainStartsWithExpect(e: ts.Expression): boolean {
  for (let x: ts.Expression = e; ;) {
    if (ts.isCallExpression(x)) {
      if (calleeName(x) === 'expect') return true;
      x = x.expression;
    } else if (ts.isPropertyAccessExpression(x)) x = x.expression;
    else return ts.isIdentifier(x) && x.text === 'expect';
  }
}

/** Keys a text sets: YAML `key:` (block or flow, list item or not), JSON `"key":`, `key=` (INI, -e). */
export function keysInText(text: string): Set<string> {
  const out = new Set<string>();
  const patterns = [
    /(?:^|[\n{,[])[ \t]*(?:- +)*["']?([A-Za-z_][A-Za-z0-9_]*)["']?[ \t]*:(?=[ \t\n]|$)/g,
    /(?:^|[\s'"])([A-Za-z_][A-Za-z0-9_]*)=(?!=)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.add(m[1]!);
  return out;
}

/** The text of a string or template literal; a template's placeholders become `X`. */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => `X${s.literal.text}`).join('');
  return undefined;
}

/**
 * The names of `names` a TypeScript test file sets, outside the describe/it blocks titled as in
 * `skipBlocks` (blocks that set values only to check they are refused).
 */
export function namesSetIn(file: string, names: ReadonlySet<string>, skipBlocks: readonly string[] = [], source = readFileSync(file, 'utf8')): Set<string> {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Set<string>();
  const visit = (node: ts.Node): void => {
    let keys: Iterable<string> = [];
    if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && ts.isObjectLiteralExpression(node.parent)) {
      const n = node.name;
      if (ts.isIdentifier(n) || ts.isStringLiteral(n)) keys = [n.text];
    } else {
      const text = literalText(node);
      if (text !== undefined) keys = keysInText(text);
    }
    const hits = [...keys].filter((k) => names.has(k));
    if (hits.length && !inNonSetting(node, skipBlocks)) for (const k of hits) found.add(k);
    // A template's spans are read as part of the whole literal.
    if (!ts.isTemplateExpression(node)) ts.forEachChild(node, visit);
    else for (const s of node.templateSpans) visit(s.expression);
  };
  visit(sf);
  return found;
}
