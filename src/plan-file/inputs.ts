import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { displayPath, isPlainObject, parseYaml } from '../config/yaml-file.ts';
import { parseAnsibleScalar } from '../config/yaml11.ts';
import { UserError } from '../errors.ts';
import { inventoryInputFiles, type Inventory } from '../inventory/inventory.ts';
import type { Playbook } from '../playbook/playbook.ts';
import { roleSearchPath } from '../roles/loader.ts';
import { isInlineMapping } from '../roles/vars.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { looksSecret } from '../secrets/secrets.ts';
import { inputDigest, secretsDigest } from './digest.ts';
import type { PlanExtraVar, PlanInputs } from './format.ts';

type InputFile = PlanInputs['files'][number];

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (keep(e.name)) out.push(p);
  }
  return out;
}

/**
 * Every file a build reads: the playbook, the inventory with its group_vars/ and host_vars/, the
 * role folders it searches (the user's and the built-in ones: any role's code and variables can
 * feed it), and -e @files. Absolute paths.
 */
export function buildInputFiles(pb: Playbook, inv: Inventory, extraVarArgs: string[]): string[] {
  const files = [
    resolve(pb.file),
    ...inventoryInputFiles(inv),
    ...roleSearchPath(pb.dir).flatMap((d) => walk(d, () => true)),
    ...(pb.inputFiles ?? []),
    ...extraVarArgs.filter((a) => a.startsWith('@')).map((a) => resolve(a.slice(1))),
  ];
  return [...new Set(files)];
}

/** Digests of the input files, named as the user sees them (relative to the working folder). */
export function digestFiles(files: string[], secrets: SecretRegistry): InputFile[] {
  return files.map((f) => ({ path: displayPath(f), sha256: inputDigest(readFileSync(f, 'utf8'), secrets) }));
}

/** Pure: what changed between the files a plan was made from and the files a build reads now. */
export function compareInputs(saved: InputFile[], now: InputFile[]): string[] {
  const before = new Map(saved.map((f) => [f.path, f.sha256]));
  const after = new Map(now.map((f) => [f.path, f.sha256]));
  const out: string[] = [];
  for (const [path, sha] of before) {
    const cur = after.get(path);
    if (cur === undefined) out.push(`${path} was removed since the plan was made`);
    else if (cur !== sha) out.push(`${path} changed since the plan was made`);
  }
  for (const path of after.keys()) if (!before.has(path)) out.push(`${path} is new since the plan was made`);
  return out;
}

const keyOf = (arg: string) => arg.slice(0, arg.indexOf('='));
/** The value -e gives (as parseExtraVars reads it), as text. */
const valueOf = (arg: string) => {
  const text = arg.slice(arg.indexOf('=') + 1);
  try {
    return String(parseAnsibleScalar(text));
  } catch {
    return text;
  }
};

/**
 * Values under secret-looking keys (inventory vars, -e k=v) are masked and keyed into the digests
 * too, even where no role of this playbook declares them secret(): the plan records those inputs.
 */
export function registerLikelySecrets(inv: Inventory, extraVarArgs: string[], secrets: SecretRegistry): void {
  for (const h of inv.hosts.values()) {
    for (const [k, v] of Object.entries(h.vars)) if (looksSecret(k) && typeof v === 'string') secrets.add(v);
  }
  for (const a of extraVarArgs) {
    if (isInlineMapping(a)) inlineSecrets(a).forEach((v) => secrets.add(v));
    else if (!a.startsWith('@') && a.includes('=') && looksSecret(keyOf(a))) secrets.add(valueOf(a));
  }
}

/** Values under a secret-looking key of an inline `-e '{...}'`, at any depth. */
function inlineSecrets(arg: string): string[] {
  const found: string[] = [];
  const walk = (v: unknown, underSecret: boolean): void => {
    if (underSecret && (typeof v === 'string' || typeof v === 'number')) found.push(String(v));
    else if (Array.isArray(v)) v.forEach((x) => walk(x, underSecret));
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, underSecret || looksSecret(k));
  };
  walk(parseYaml(arg, 'command line (-e)').data, false);
  return found;
}

/** A plan keeps an inline -e mapping as written: one holding a secret cannot be kept without it. */
function refuseInlineSecret(arg: string, secrets: SecretRegistry): void {
  const strings: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') strings.push(String(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(parseYaml(arg, 'command line (-e)').data);
  if (inlineSecrets(arg).length || strings.some((v) => secrets.has(v))) {
    throw new UserError("an inline -e '{...}' holding a secret cannot go into a plan (a plan stores no secret): give it in a -e @FILE, which apply reads again");
  }
}

/** -e arguments as the plan keeps them: a secret value (by its key's name, or known as a secret) only by its key. */
export function storedExtraVars(args: string[], secrets: SecretRegistry): PlanExtraVar[] {
  return args.map((a) => {
    if (isInlineMapping(a)) refuseInlineSecret(a, secrets);
    if (a.startsWith('@') || isInlineMapping(a) || !a.includes('=')) return a;
    const key = keyOf(a);
    return looksSecret(key) || secrets.has(valueOf(a)) ? { key, secret: true as const } : a;
  });
}

/**
 * The -e arguments to rebuild a saved plan with: the plan's own, and the secret ones the user gives
 * again (the plan never held them). Any other -e would make a different plan: refused.
 */
export function extraVarsForApply(saved: PlanExtraVar[], given: string[], planFile: string): string[] {
  const secretKeys = saved.filter((v): v is { key: string; secret: true } => typeof v !== 'string').map((v) => v.key);
  const byKey = new Map<string, string>();
  for (const a of given) {
    const key = a.includes('=') && !isInlineMapping(a) ? keyOf(a) : '';
    if (!secretKeys.includes(key)) {
      // Only the key is named: the value may be a secret (an inline mapping is not shown at all).
      const got = key || (isInlineMapping(a) ? "an inline -e '{...}'" : a.startsWith('@') ? a : `'${a.slice(0, 40)}'`);
      throw new UserError(
        `apply takes -e only for the secret extra vars the plan was made with (${secretKeys.length ? secretKeys.join(', ') : 'none'}); got ${key ? `'${key}'` : got}: other variables come from the plan`,
        { file: planFile },
      );
    }
    byKey.set(key, a);
  }
  const missing = secretKeys.filter((k) => !byKey.has(k));
  if (missing.length) {
    throw new UserError(
      `the plan was made with secret extra vars it does not store: give them again, e.g. mxplay apply ${planFile} ${missing.map((k) => `-e ${k}=…`).join(' ')} ` +
        '(a secret in argv is seen by every process and kept in shell history: next time make the plan with -e @FILE, which apply reads again)',
      { file: planFile },
    );
  }
  return saved.map((v) => (typeof v === 'string' ? v : byKey.get(v.key)!));
}

/** The inputs a plan records (and an apply recomputes to compare): options, file digests, the secrets digest. */
export function planInputs(
  pb: Playbook,
  inv: Inventory,
  a: { playbook: string; inventory: string | string[]; limit?: string; tags?: string[]; skipTags?: string[]; extraVars: string[] },
  secrets: SecretRegistry,
): PlanInputs {
  return {
    playbook: a.playbook,
    inventory: a.inventory,
    ...(a.limit ? { limit: a.limit } : {}),
    ...(a.tags?.length ? { tags: a.tags } : {}),
    ...(a.skipTags?.length ? { skipTags: a.skipTags } : {}),
    extraVars: storedExtraVars(a.extraVars, secrets),
    files: digestFiles(buildInputFiles(pb, inv, a.extraVars), secrets),
    secrets: secretsDigest(secrets),
  };
}
