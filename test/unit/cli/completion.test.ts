import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { completions, completionScript } from '../../../src/cli/completion.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('completion candidates come from mxplay itself', () => {
  it.each([
    [['r'], ['restore', 'roles', 'run']],
    [['run', '--ch'], ['--check']],
    [['run', '--sy'], ['--syntax-check']],
    [['roles', '--'], ['--json']],
    [['show', '--format', 'm'], ['markdown']],
    [['run', 'x.yml', '--host-key-checking', ''], ['accept-new', 'off', 'strict']],
    [['completion', ''], ['bash', 'zsh']],
    [['roles', 'synapse_'], ['synapse_admin', 'synapse_consent', 'synapse_email', 'synapse_ldap', 'synapse_oidc', 'synapse_server_notices']],
    [['run', 'site.yml', '-t', 'cot'], ['coturn']],
    [['run', 'site.yml', '-i', 'lab', '-l', 'lab'], ['lab1', 'lab2', 'lab3']],
    [['run', 'site.yml', '-i', ''], ['lab', 'prod.example']],
    [['run', 's'], ['site.yml']],
    [['run', 'site.yml', '-l', 'lab'], []], // no -i yet: no inventory to read hosts from
    [['plan', 'site.yml', '-o', ''], []], // a file: the shell's own file names
  ])('%j → %j', async (words, expected) => {
    expect(await completions(words, ROOT)).toEqual(expected);
  });

  it('offers no hidden command', async () => {
    expect(await completions([''], ROOT)).toEqual(['apply', 'backup', 'completion', 'help', 'import', 'inventory', 'plan', 'restore', 'roles', 'run', 'show', 'verify']);
  });
});

/**
 * A shell with mxplay on PATH, as an installed CLI would be (the sources, so no build is needed),
 * and the completion script for it sourced: `complete(...words)` prints the candidates.
 */
function shellWithCompletion(shell: 'bash' | 'zsh', completeWith: (script: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), `mxplay-completion-${shell}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'mxplay'), `#!/bin/sh\nMXPLAY_FROM_SOURCE=1 exec node ${join(ROOT, 'bin/mxplay.js')} "$@"\n`);
  chmodSync(join(dir, 'mxplay'), 0o755);
  writeFileSync(join(dir, `completion.${shell}`), completionScript(shell));
  return (...words: string[]) =>
    execFileSync(shell, [shell === 'zsh' ? '-fc' : '-c', completeWith(join(dir, `completion.${shell}`)), shell, ...words], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
      encoding: 'utf8',
    }).split('\n').filter(Boolean);
}

describe('the bash script completes through the real CLI', () => {
  const complete = shellWithCompletion('bash', (script) => `source ${script}; COMP_WORDS=(mxplay "$@"); COMP_CWORD=$#; _mxplay; printf '%s\\n' "\${COMPREPLY[@]}"`);

  it('completes a command, an option and a host', () => {
    expect(complete('pl')).toEqual(['plan']);
    expect(complete('run', 'site.yml', '--dr')).toEqual([]);
    expect(complete('run', 'site.yml', '--det')).toEqual(['--detailed-exitcode']);
    expect(complete('run', 'site.yml', '-i', 'lab', '-l', 'lab2')).toEqual(['lab2']);
  });
});

describe('the zsh script completes through the real CLI', () => {
  // Outside an interactive completion, zsh's completion builtins are stood in for: compadd prints
  // what it is given, _files says the shell's file names were offered. words/CURRENT as zsh sets them.
  const complete = shellWithCompletion(
    'zsh',
    (script) => `compdef() { :; }; compadd() { [[ $1 == -a ]] && print -l -- \${(P)2}; }; _files() { print '(files)'; }; source ${script}; words=(mxplay "$@"); CURRENT=$(( $# + 1 )); _mxplay`,
  );

  it('completes a command, an option and a host; falls back to file names', () => {
    expect(complete('pl')).toEqual(['plan']);
    expect(complete('run', 'site.yml', '--det')).toEqual(['--detailed-exitcode']);
    expect(complete('run', 'site.yml', '-i', 'lab', '-l', 'lab2')).toEqual(['lab2']);
    expect(complete('plan', 'site.yml', '-o', '')).toEqual(['(files)']);
  });
});
