import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect } from 'vitest';
import type { PlanResult, Resource } from '../../src/resources/types.ts';
import type { WorkItem } from '../../src/engine/work.ts';
import { STATE_DIR } from '../../src/engine/scripts.ts';
import type { Play } from '../../src/playbook/playbook.ts';
import type { Connection } from '../../src/transport/connection.ts';
import { UserError, UserErrors } from '../../src/errors.ts';

const made: string[] = [];

/** A fresh temp dir, removed after the current test. */
export function tempDir(prefix = 'mxp-unit-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** Write a tree of files: { 'a/b.yml': 'text' }. */
export function writeTree(root: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

/** Run a script with /bin/sh (dash on Debian: the POSIX shell the hosts run), optionally with fake tools first on PATH. */
export function sh(script: string, opts: { fakeBin?: string } = {}): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env, ...(opts.fakeBin ? { PATH: `${opts.fakeBin}:${process.env.PATH}` } : {}) };
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A directory of fake commands (name → shell body), to run probes that call systemctl, dpkg-query, ... */
export function fakeBin(tools: Record<string, string>): string {
  const d = tempDir('mxp-bin-');
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, name), 0o755);
  }
  return d;
}

/** A work item of play 0, for planItems. */
export function item(resource: Resource, role = 'test'): WorkItem {
  return { play: 0, role, resource };
}

/** What a planner table row expects: no-op, unresolved (message fragment), or a change. */
export type Expected =
  | null
  | { unresolved: string | RegExp }
  | {
      action: '+' | '~' | '-';
      summary: string | RegExp;
      /** Fragments the script must contain, in this order. */
      has?: string[];
      /** Fragments the script must not contain. */
      lacks?: string[];
    };

export function expectPlan(got: PlanResult, want: Expected): void {
  if (want === null) {
    expect(got).toBeNull();
    return;
  }
  expect(got).not.toBeNull();
  if ('unresolved' in want) {
    expect(got).toHaveProperty('unresolved');
    expect((got as { unresolved: string }).unresolved).toMatch(want.unresolved);
    return;
  }
  expect(got).not.toHaveProperty('unresolved');
  const c = got as { action: string; summary: string; script: string };
  expect(c.action).toBe(want.action);
  if (typeof want.summary === 'string') expect(c.summary).toBe(want.summary);
  else expect(c.summary).toMatch(want.summary);
  let from = 0;
  for (const f of want.has ?? []) {
    const at = c.script.indexOf(f, from);
    expect(at, `script should contain ${JSON.stringify(f)} (in order) but is:\n${c.script}`).toBeGreaterThanOrEqual(0);
    from = at + f.length;
  }
  for (const f of want.lacks ?? []) expect(c.script, `script must not contain ${JSON.stringify(f)}`).not.toContain(f);
}

/** The bytes a `base64Heredoc` in a script carries. */
export function heredocPayload(script: string): string {
  const m = /<<'MXP_EOF'\n([\s\S]*?)MXP_EOF/.exec(script);
  if (!m) throw new Error(`no heredoc in:\n${script}`);
  return Buffer.from(m[1]!.replace(/\n/g, ''), 'base64').toString('utf8');
}

/** A script with the data of its here-documents decoded (data travels base64: see resources/sh.ts), for assertions on SQL and contents. */
export function decoded(script: string): string {
  return script.replace(/<<'MXP_EOF'(.*)\n([A-Za-z0-9+/=\n]*?)MXP_EOF/g, (_all, rest: string, b64: string) => `<<DATA${rest}\n${Buffer.from(b64.replace(/\n/g, ''), 'base64').toString()}DATA`);
}

/** A connection whose host is this machine's /bin/sh, with mxplay's state dir moved to `state`. */
export function shellConnection(host: string, state: string): Connection {
  let roundTrips = 0;
  return {
    host,
    get roundTrips() {
      return roundTrips;
    },
    async run(script) {
      roundTrips++;
      const r = spawnSync('/bin/sh', ['-s'], { input: script.replaceAll(STATE_DIR, state), encoding: 'utf8' });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    async close() {},
  };
}

/** A play with nothing in it but what `o` says. */
export const play = (index: number, o: Partial<Play> = {}): Play => ({
  index, name: `play ${index + 1}`, hosts: 'all', vars: {}, roles: [], tasks: [], handlers: [],
  become: undefined, serial: undefined, maxFailPercentage: 100, tags: [], ...o,
});

/** The input errors a build refuses with, one string each ([] when it builds). */
export async function userErrorsOf(build: Promise<unknown>): Promise<string[]> {
  try {
    await build;
    return [];
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.toString());
    throw e;
  }
}

/** The UserError a call throws (the test fails if it throws nothing, or something else). */
export function userErrorOf(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected an error');
}
