// `mxplay backup` and `mxplay restore` on the command line: each reads its own options, and the
// mistakes a user makes with them are refused before anything is read or contacted.
import { describe, expect, it } from 'vitest';
import { parse } from './parse.ts';


const valid: [string, string[], Record<string, unknown>][] = [
  ['backup', ['backup', 'site.yml', '-i', 'prod', '-l', 'matrix1', '-e', '@s.yml', '-f', '2', '--host-key-checking', 'strict', '-u', 'ops', '-K', '--vault-password-file', 'v', '-v', '--no-color'],
    { inventory: ['prod'], limit: 'matrix1', extraVars: ['@s.yml'], forks: '2', hostKeyChecking: 'strict', user: 'ops', askBecomePass: true, vaultPasswordFile: ['v'], verbose: 1, color: false }],
  ['restore', ['restore', 'site.yml', '-i', 'prod', '--host', 'matrix1', '--archive', 'matrix1-2026-12-01T03:30:00', '-y', '--jump', 'bastion', '-vv'],
    { inventory: ['prod'], host: 'matrix1', archive: 'matrix1-2026-12-01T03:30:00', yes: true, jump: 'bastion', verbose: 2 }],
  ['restore', ['restore', 'site.yml', '-i', 'prod', '--host', 'matrix1'], { host: 'matrix1' }],
];

const refused: [string, string[], RegExp][] = [
  ['restore without --host', ['restore', 'site.yml', '-i', 'prod'], /required option '--host <host>' not specified/],
  ['restore takes no --limit (one host, named)', ['restore', 'site.yml', '--host', 'a', '-l', 'b'], /unknown option '-l'/],
  ['backup takes no --tags (the whole backup or none)', ['backup', 'site.yml', '-t', 'synapse'], /unknown option '-t'/],
  ['backup asks nothing: no --yes', ['backup', 'site.yml', '--yes'], /unknown option '--yes'/],
  ['a typo of --archive', ['restore', 'site.yml', '--host', 'a', '--archiv', 'x'], /Did you mean --archive\?/],
  ['backup without a playbook', ['backup', '-i', 'prod'], /missing required argument 'playbook'/],
];

describe('backup and restore options', () => {
  it.each(valid)('%s: %j', async (command, argv, expected) => {
    const { parsed, err } = await parse(argv);
    expect(err).toBe('');
    expect(parsed).toMatchObject({ command, args: ['site.yml'], opts: expected });
  });

  it.each(refused)('%s', async (_, argv, message) => {
    const { parsed, err } = await parse(argv);
    expect(parsed).toEqual({ exit: 1 });
    expect(err).toMatch(message);
  });

  it.each(['backup', 'restore'])('%s -h is its own help', async (cmd) => {
    const { parsed, out } = await parse([cmd, '-h']);
    expect(parsed).toEqual({ exit: 0 });
    expect(out).toMatch(new RegExp(`^Usage: mxplay ${cmd} \\[options\\] <playbook>`));
  });
});
