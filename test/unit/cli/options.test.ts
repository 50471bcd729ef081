import { describe, expect, it } from 'vitest';
import { parse } from './parse.ts';


// Every command with a line that uses each of its options once: the option set of each command.
const valid: [string, string[], Record<string, unknown>][] = [
  ['run', ['run', 'site.yml', '-i', 'a', '-i', 'b', '-C', '-D', '--detailed-exitcode', '-y', '--json', '-l', 'web', '-t', 'synapse', '--skip-tags', 'x', '-e', 'a=1', '-e', '{"b": 2}', '-f', '3', '--host-key-checking', 'accept-new', '-u', 'admin', '--private-key', 'k', '--jump', 'j', '-k', '-K', '--vault-password-file', 'v', '--vault-id', 'p@prompt', '-J', '--no-color', '-vvv', '--log-file', 'l.log'],
    { inventory: ['a', 'b'], check: true, diff: true, detailedExitcode: true, yes: true, json: true, limit: 'web', tags: 'synapse', skipTags: 'x', extraVars: ['a=1', '{"b": 2}'], forks: '3', hostKeyChecking: 'accept-new', user: 'admin', privateKey: 'k', jump: 'j', askPass: true, askBecomePass: true, vaultPasswordFile: ['v'], vaultId: ['p@prompt'], askVaultPass: true, color: false, verbose: 3, logFile: 'l.log' }],
  ['run', ['run', 'site.yml', '-i', 'lab', '--list-hosts', '--list-tasks', '--syntax-check'], { listHosts: true, listTasks: true, syntaxCheck: true, forks: 10, verbose: 0 }],
  ['run', ['run', 'site.yml', '-i', 'lab', '--step'], { step: true }],
  ['run', ['run', 'site.yml', '-i', 'lab', '--verify'], { verify: true }],
  ['verify', ['verify', 'site.yml', '-i', 'lab', '-l', 'web', '-t', 'nginx', '--skip-tags', 'x', '-e', 'a=1', '--json', '--vault-password-file', 'v', '--no-color'],
    { inventory: ['lab'], limit: 'web', tags: 'nginx', skipTags: 'x', extraVars: ['a=1'], json: true, vaultPasswordFile: ['v'], color: false }],
  ['plan', ['plan', 'site.yml', '-i', 'lab', '-o', 'p.json', '--format', 'markdown', '--detailed-exitcode', '-v', '--verbose'], { output: 'p.json', format: 'markdown', detailedExitcode: true, verbose: 2 }],
  ['show', ['show', 'p.json', '--format', 'json', '--no-color'], { format: 'json', color: false }],
  ['show', ['show', 'p.json'], { format: 'text' }],
  ['apply', ['apply', 'p.json', '-y', '--json', '-D', '-e', 'db_password=x', '-f', '2', '--vault-pass-file', 'v'], { yes: true, json: true, diff: true, extraVars: ['db_password=x'], forks: '2', vaultPassFile: ['v'] }],
  ['inventory', ['inventory', '-i', 'lab', '--host', 'lab1', '--json', '--list', '-J'], { inventory: ['lab'], host: 'lab1', json: true, list: true, askVaultPass: true }],
  ['roles', ['roles', 'synapse', '--json'], { json: true }],
  ['completion', ['completion', 'zsh'], {}],
];

describe('each command reads its own options', () => {
  it.each(valid)('%s: %j', async (command, argv, expected) => {
    const { parsed, err } = await parse(argv);
    expect(err).toBe('');
    expect(parsed).toMatchObject({ command, opts: expected });
  });

  it('keeps the positionals', async () => {
    expect((await parse(['run', 'site.yml', '-i', 'x'])).parsed).toMatchObject({ args: ['site.yml'] });
    expect((await parse(['roles'])).parsed).toMatchObject({ command: 'roles', args: [] });
    expect((await parse(['roles', 'nginx'])).parsed).toMatchObject({ args: ['nginx'] });
  });
});

// Lines a user mistypes: each refused with exit 1 and a message that says what is wrong.
const refused: [string, string[], RegExp][] = [
  ['a typo of an option', ['run', 'site.yml', '--chek'], /unknown option '--chek'\n\(Did you mean --check\?\)/],
  ['a typo of a long option with a value', ['plan', 'site.yml', '--outptu', 'x'], /Did you mean --output\?/],
  ['another command\'s option (roles --check)', ['roles', '--check'], /unknown option '--check'/],
  ['verify makes no SSH connection: no access option', ['verify', 'site.yml', '-i', 'lab', '-u', 'admin'], /unknown option '-u'/],
  ['verify changes nothing: no --check', ['verify', 'site.yml', '-i', 'lab', '--check'], /unknown option '--check'/],
  ['another command\'s option (show -i)', ['show', 'p.json', '-i', 'lab'], /unknown option '-i'/],
  ['another command\'s option (inventory --yes)', ['inventory', '-i', 'lab', '--yes'], /unknown option '--yes'/],
  ['another command\'s option (apply --check)', ['apply', 'p.json', '--check'], /unknown option '--check'/],
  ['another command\'s option (plan --yes)', ['plan', 'site.yml', '--yes'], /unknown option '--yes'/],
  ['an extra positional', ['run', 'site.yml', 'other.yml'], /too many arguments for 'run'/],
  ['an extra positional for roles', ['roles', 'a', 'b'], /too many arguments for 'roles'/],
  ['a missing playbook', ['run', '-i', 'lab'], /missing required argument 'playbook'/],
  ["Terraform's -out", ['plan', 'site.yml', '-out', 'plan.json'], /'-out' reads as -o 'ut'.*Terraform's -out is -o here/],
  ['a value glued to -i', ['run', 'site.yml', '-ilab'], /'-ilab' reads as -i 'lab'/],
  ['a format that does not exist', ['show', 'p.json', '--format', 'html'], /Allowed choices are json, markdown, text/],
  ['a host key mode that does not exist', ['run', 'site.yml', '--host-key-checking', 'yes'], /Allowed choices are strict, accept-new, off/],
  ['a shell without completion', ['completion', 'fish'], /Allowed choices are bash, zsh/],
  ['--step with --yes', ['run', 'site.yml', '--step', '-y'], /option '--step' cannot be used with option '-y, --yes'/],
  ['--step for apply (run only)', ['apply', 'p.json', '--step'], /unknown option '--step'/],
  ['an unknown command', ['rnu', 'site.yml'], /unknown command 'rnu'\n\(Did you mean run\?\)/],
  ['-v before any command', ['-v'], /unknown option '-v'/],
  ['an option without its value', ['inventory', '--host'], /argument missing/],
];

describe('mistakes are refused with exit 1 and a suggestion', () => {
  it.each(refused)('%s', async (_, argv, message) => {
    const { parsed, err } = await parse(argv);
    expect(parsed).toEqual({ exit: 1 });
    expect(err).toMatch(message);
  });
});

describe('help and version', () => {
  it('--version prints the version and exits 0', async () => {
    const { parsed, out } = await parse(['--version']);
    expect(parsed).toEqual({ exit: 0 });
    expect(out).toMatch(/^mxplay \d+\.\d+\.\d+\n$/);
  });

  it.each(['run', 'plan', 'show', 'apply', 'inventory', 'roles', 'completion'])('%s -h is its own help', async (cmd) => {
    const { parsed, out } = await parse([cmd, '-h']);
    expect(parsed).toEqual({ exit: 0 });
    expect(out).toMatch(new RegExp(`^Usage: mxplay ${cmd} `));
    const other = await parse([cmd === 'run' ? 'roles' : 'run', '--help']);
    expect(other.out).not.toBe(out);
  });

  it('no command: the overview on stderr, exit 1', async () => {
    const { parsed, err } = await parse([]);
    expect(parsed).toEqual({ exit: 1 });
    expect(err).toMatch(/Commands:\n(.|\n)*run \[options\] <playbook>/);
  });

  it('help COMMAND is that command\'s help', async () => {
    expect((await parse(['help', 'plan'])).out).toMatch(/^Usage: mxplay plan /);
  });
});
