import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateCacheFolder, pruneUnused } from '../cache-folder.ts';
import { UserError } from '../errors.ts';
import { pool } from './pool.ts';
import { label, type HostWork } from './work.ts';

/**
 * Shell written by users (a command, its `unless`, a `validate` check) is checked with `sh -n` on
 * the control machine before any host is contacted: a snippet that does not parse would otherwise
 * break the whole probe or apply script it is embedded in, far from its cause (every later probe
 * of the host "printed nothing"). Debian's dash is both the hosts' /bin/sh and this machine's.
 *
 * A snippet is checked as mxplay's scripts embed it, in a subshell `( … \n)`: alone, a here-document
 * left open would pass (dash ends it at the end of the text), yet in a script it swallows the rest.
 */
export const SH = '/bin/sh';

export const embedded = (text: string) => `( ${text}\n)\n`;

/**
 * `sh -n` of one snippet: undefined when it parses, else the shell's own message. Checked as
 * embedded (one exec per snippet); only a failing one is checked alone again, for the message
 * whose line numbers are the snippet's own.
 */
export async function shellSyntaxError(text: string): Promise<string | undefined> {
  if (text.includes('\0')) return 'it holds a NUL byte, which no shell word can carry';
  const script = embedded(text);
  const passed = passedBefore(script);
  if (passed?.known) return undefined;
  const inScript = await syntaxCheck(script);
  if (inScript === undefined) {
    passed?.remember();
    return undefined;
  }
  const alone = await syntaxCheck(text);
  return alone ?? `${inScript} (it leaves something open, such as a here-document without its end line, that would swallow the rest of mxplay's script)`;
}

/**
 * Snippets this machine's shell accepted before, one empty file each named by the hash of the
 * shell's identity (its file's size and time) and the text: a run whose snippets all passed before
 * starts no shell (a fork of this process is about 10 ms of a 0.6 s no-op). Only in a folder of
 * this user's that nobody else can write (else no shortcut: every snippet is checked).
 */
function passedBefore(script: string): { known: boolean; remember(): void } | undefined {
  const dir = passedFolder();
  if (!dir) return undefined;
  const file = join(dir, passedName(script));
  return {
    known: existsSync(file),
    remember: () => {
      try {
        writeFileSync(file, '', { mode: 0o600 });
        pruneUnused(dir);
      } catch {
        /* not remembered: checked again next time */
      }
    },
  };
}

/** The name a snippet, as embedded in a script, is remembered under (exported for tests). */
export function passedName(script: string): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * The folder where snippets are remembered, for this cache home and this shell (exported for
 * tests); undefined when there is none fit to trust.
 */
export function passedFolder(): string | undefined {
  shId ??= shellId();
  return shId && privateCacheFolder('sh-ok', shId);
}

/** The shell's identity: its file, size and time (a new dash is a new folder). */
let shId: string | undefined;
function shellId(): string | undefined {
  try {
    const sh = statSync(SH);
    return createHash('sha256').update(`${realpathSync(SH)}\0${sh.size}\0${sh.mtimeMs}`).digest('hex').slice(0, 16);
  } catch {
    return undefined;
  }
}

function syntaxCheck(script: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let stderr = '';
    let child;
    try {
      child = spawn(SH, ['-n', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      return resolve(undefined); // no shell here to check with: the hosts will say it
    }
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      if (code === 0) return resolve(undefined);
      // "/bin/sh: 2: Syntax error: ..." → "line 2: Syntax error: ..." (lines of the snippet itself).
      const msg = stderr.trim().split('\n').map((l) => l.replace(/^(?:\/bin\/)?sh: (\d+): /, 'line $1: ')).join('; ');
      resolve(msg || `${SH} -n exited with ${code}`);
    });
  });
}

interface Origin {
  resource: string;
  what: string;
  role: string;
  line?: number;
  hosts: string[];
}

/**
 * Every user snippet of every host's work (commands, unless, validate, of tasks and handlers),
 * each distinct text checked once: the errors, one per task with the hosts it applies to.
 */
export async function snippetErrors(works: HostWork[], file: string): Promise<UserError[]> {
  const origins = new Map<string, Origin & { text: string }>();
  const add = (host: string, o: Omit<Origin, 'hosts'>, text: string) => {
    const key = JSON.stringify([o.role, o.line ?? null, o.resource, o.what, text]);
    const seen = origins.get(key);
    if (seen) {
      if (!seen.hosts.includes(host)) seen.hosts.push(host);
    } else origins.set(key, { ...o, text, hosts: [host] });
  };
  for (const w of works) {
    const host = w.host.name;
    for (const pw of w.plays) {
      for (const it of pw.items) {
        const r = it.resource;
        const where = { resource: label(r), role: it.role, ...(it.line !== undefined ? { line: it.line } : {}) };
        for (const s of r.snippets ?? []) add(host, { ...where, what: s.what }, s.text);
        if (r.validate) add(host, { ...where, what: 'validate' }, r.validate);
      }
      for (const [name, r] of pw.handlers) {
        const line = pw.play.handlers.find((h) => h.name === name)?.line;
        const where = { resource: `handler ${name} (${label(r)})`, role: line !== undefined ? 'handlers' : '', ...(line !== undefined ? { line } : {}) };
        for (const s of r.snippets ?? []) add(host, { ...where, what: s.what }, s.text);
        if (r.validate) add(host, { ...where, what: 'validate' }, r.validate);
      }
    }
  }
  const texts = [...new Set([...origins.values()].map((o) => o.text))];
  const results = await pool(texts, 8, shellSyntaxError);
  const bad = new Map(texts.flatMap((t, i) => (results[i] ? [[t, results[i]!] as const] : [])));
  const errors: UserError[] = [];
  for (const o of origins.values()) {
    const msg = bad.get(o.text);
    if (!msg) continue;
    const inPlaybook = o.line !== undefined;
    errors.push(
      new UserError(`${o.resource}: its ${o.what} is not valid shell (${SH} -n here, before connecting): ${msg}`, {
        ...(inPlaybook ? { file, line: o.line } : {}),
        host: o.hosts.join(', '),
        ...(o.role && o.role !== 'tasks' && o.role !== 'handlers' ? { role: o.role } : {}),
      }),
    );
  }
  return errors;
}
