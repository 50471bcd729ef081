// Every variable of every built-in role (read from the roles' zod schemas as `mxplay roles` reads
// them) with the test files that set it, and the table of docs/role-var-coverage.md.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { roleDocs } from '../../src/cli/roles.ts';
import { BUILTIN_ROLES } from '../../src/roles/loader.ts';
import { namesSetIn } from './scan.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const TABLE_FILE = join(ROOT, 'docs', 'role-var-coverage.md');

/**
 * Tests that set values only to check they are refused: they do not exercise a variable. A file
 * maps to its blocks (describe/it titles) of that kind, or to '*' for the whole file.
 */
export const REFUSAL_TESTS: Record<string, { blocks: '*' | string[]; why: string }> = {
  'test/unit/roles/strict-vars.test.ts': { blocks: '*', why: 'misspelt or incomplete settings, refused' },
  'test/e2e/bad-input.e2e.test.ts': { blocks: '*', why: 'bad values, refused before any host is contacted' },
  'test/unit/roles/config-values.test.ts': { blocks: ['roles refuse values their config files cannot hold, naming the key'], why: 'values a config file cannot hold, refused' },
  'test/unit/roles/jitsi.test.ts': { blocks: ['jitsi role: input checked per host before anything runs'], why: 'bad Jitsi input, refused' },
  'test/unit/roles/backup.test.ts': { blocks: ['%s: the error names host, role and key'], why: 'bad backup input, refused' },
  'test/unit/roles/synapse-workers.test.ts': { blocks: ['synapse workers: what Synapse would refuse, or what could not work, is refused naming host and key'], why: 'worker set-ups that cannot work, refused' },
};

/**
 * Variables no test sets, each with why. Keep it short: a variable belongs here only when no lab
 * host can show its effect.
 */
export const EXEMPT: Record<string, Record<string, string>> = {};

export interface VarCoverage {
  role: string;
  variable: string;
  /** The other roles that declare the same variable (one setting serves them all). */
  alsoIn: string[];
  e2e: string[];
  unit: string[];
  exempt?: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return /\.ts$/.test(n) ? [p] : [];
  });
}

/** Each role's variables, in schema order, with the files that set them. */
export async function roleVarCoverage(): Promise<VarCoverage[]> {
  const docs = await roleDocs(undefined, [BUILTIN_ROLES]);
  const names = new Set(docs.flatMap((d) => d.vars.filter((v) => v.path === v.name).map((v) => v.name)));
  const setBy = new Map<string, { e2e: string[]; unit: string[] }>([...names].map((n) => [n, { e2e: [], unit: [] }]));
  for (const kind of ['e2e', 'unit'] as const) {
    for (const file of tsFiles(join(ROOT, 'test', kind)).sort()) {
      const rel = relative(ROOT, file);
      const refusals = REFUSAL_TESTS[rel]?.blocks ?? [];
      if (refusals === '*') continue;
      for (const n of namesSetIn(file, names, refusals)) setBy.get(n)![kind].push(rel);
    }
  }
  // A variable several roles declare (synapse_package_source, proxy_*) is listed once, under the
  // role its name starts with, else the first.
  const declaredBy = new Map<string, string[]>();
  for (const d of docs) for (const v of d.vars) if (v.path === v.name) declaredBy.set(v.name, [...(declaredBy.get(v.name) ?? []), d.name]);
  const owner = (name: string) => {
    const roles = declaredBy.get(name)!;
    return [...roles].sort((a, b) => b.length - a.length).find((r) => name.startsWith(`${r}_`)) ?? roles[0]!;
  };
  return docs.flatMap((d) => d.vars.filter((v) => v.path === v.name && owner(v.name) === d.name).map((v) => ({
    role: d.name,
    variable: v.name,
    alsoIn: declaredBy.get(v.name)!.filter((r) => r !== d.name),
    ...setBy.get(v.name)!,
    ...(EXEMPT[d.name]?.[v.name] ? { exempt: EXEMPT[d.name]![v.name] } : {}),
  })));
}

const short = (f: string) => f.replace(/^test\/(e2e|unit)\//, '').replace(/(\.e2e)?\.test\.ts$/, '');
const cell = (files: string[]) => files.map((f) => `[${short(f)}](../${f})`).join(', ');

export function coverageTable(rows: VarCoverage[]): string {
  const missing = rows.filter((r) => !r.e2e.length && !r.unit.length && !r.exempt);
  return [
    '# Role variables and the tests that set them',
    '',
    '<!-- made by `npm run docs:coverage` (scripts/role-var-coverage.ts); do not edit -->',
    '',
    'Every variable of every built-in role, and the test files that set it: a key of that name in an',
    'inventory, host_vars/group_vars YAML, a vars object or `-e` data written by the test. A name only',
    'mentioned in an assertion, a test title or a log line does not count, and neither do values given',
    'to a test\'s `errors(...)` helper (it returns the input errors) or set in tests that only check a refusal:',
    '',
    ...Object.entries(REFUSAL_TESTS).map(([f, r]) => `- \`${f}\`${r.blocks === '*' ? '' : ` (${r.blocks.map((b) => `"${b}"`).join(', ')})`}: ${r.why}`),
    '',
    'A variable several roles declare is listed once, under the role its name starts with (else the first).',
    'test/unit/roles/var-coverage.test.ts fails when a variable has no test and no exemption.',
    '',
    `${rows.length} variables; ${rows.filter((r) => r.e2e.length).length} set by an e2e test (on real lab hosts), ` +
      `${rows.filter((r) => !r.e2e.length && r.unit.length).length} by unit tests only, ` +
      `${rows.filter((r) => r.exempt).length} exempt, ${missing.length} by no test.`,
    '',
    '| role | variable | e2e tests | unit tests |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.role} | \`${r.variable}\`${r.alsoIn.length ? ` (also ${r.alsoIn.join(', ')})` : ''} | ${r.exempt && !r.e2e.length && !r.unit.length ? `exempt: ${r.exempt}` : cell(r.e2e) || '—'} | ${cell(r.unit) || '—'} |`),
    '',
  ].join('\n');
}
