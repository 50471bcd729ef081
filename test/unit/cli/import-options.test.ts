// `mxplay import` on the command line: its own options, and the mistakes refused before anything
// is read or contacted.
import { describe, expect, it } from 'vitest';
import { parse } from './parse.ts';

const valid: [string, string[], Record<string, unknown>][] = [
  ['everything', ['import', '-i', 'prod', '--host', 'matrix1', '--roles', 'synapse,nginx', '--force', '--report-json', 'r.json', '--vault-password-file', 'v', '-u', 'ops', '-K', '--jump', 'bastion', '--host-key-checking', 'strict', '-vv'],
    { inventory: ['prod'], host: 'matrix1', roles: 'synapse,nginx', force: true, reportJson: 'r.json', vaultPasswordFile: ['v'], user: 'ops', askBecomePass: true, jump: 'bastion', hostKeyChecking: 'strict', verbose: 2 }],
  ['the least', ['import', '-i', 'prod', '--host', 'matrix1'], { inventory: ['prod'], host: 'matrix1' }],
];

const refused: [string, string[], RegExp][] = [
  ['without --host', ['import', '-i', 'prod'], /required option '--host <host>' not specified/],
  ['a playbook: import reads a host, not a playbook', ['import', 'site.yml', '-i', 'prod', '--host', 'a'], /too many arguments/],
  ['--limit: one host, named', ['import', '-i', 'prod', '--host', 'a', '-l', 'b'], /unknown option '-l'/],
  ['a typo of --force', ['import', '-i', 'prod', '--host', 'a', '--forec'], /Did you mean --force\?/],
];

describe('import options', () => {
  it.each(valid)('%s', async (_, argv, expected) => {
    const { parsed, err } = await parse(argv);
    expect(err).toBe('');
    expect(parsed).toMatchObject({ command: 'import', args: [], opts: expected });
  });

  it.each(refused)('refuses %s', async (_, argv, message) => {
    const { parsed, err } = await parse(argv);
    expect(parsed).toEqual({ exit: 1 });
    expect(err).toMatch(message);
  });
});
