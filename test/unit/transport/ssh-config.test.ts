import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { sshConfigFor } from '../../../src/transport/ssh-config.ts';

const CONFIG = `# global
User fallback

Host hs1 hs1.lab
    HostName 10.0.0.11
    Port 2222
    IdentityFile ~/.ssh/lab_ed25519

Host hs* !hs9
  User matrix
  Port 22

Host db?
  HostName %h.internal
  Port=5022
  User "db admin"

Match host foo
  User nobody

Host *
  User last
  IdentityFile /etc/ssh/default_key
`;

describe('sshConfigFor', () => {
  it.each([
    ['exact alias: the first value of each key wins', 'hs1', { hostname: '10.0.0.11', port: 2222, user: 'fallback', identityFile: `${homedir()}/.ssh/lab_ed25519` }],
    ['second name on a Host line', 'hs1.lab', { hostname: '10.0.0.11', port: 2222, user: 'fallback' }],
    ['glob', 'hs2', { port: 22, user: 'fallback', identityFile: '/etc/ssh/default_key' }],
    ['negated pattern excludes', 'hs9', { user: 'fallback', identityFile: '/etc/ssh/default_key' }],
    ['? glob, %h, key=value, quotes', 'db1', { hostname: 'db1.internal', port: 5022, user: 'fallback' }],
    ['no Host matches: only global and Host *', 'web', { user: 'fallback', identityFile: '/etc/ssh/default_key' }],
  ])('%s', (_n, alias, want) => {
    expect(sshConfigFor(alias, CONFIG)).toMatchObject(want);
  });

  it('without global settings, Host * values apply and Match blocks are ignored', () => {
    const text = 'Match host foo\n  User nobody\nHost *\n  User someone\n';
    expect(sshConfigFor('foo', text)).toEqual({ user: 'someone' });
  });

  it('keywords are case-insensitive; a dot in a pattern is literal', () => {
    expect(sshConfigFor('a.b', 'HOST a.b\n  hostname x\n  PORT 23\n')).toEqual({ hostname: 'x', port: 23 });
    expect(sshConfigFor('axb', 'Host a.b\n  HostName x\n')).toEqual({});
  });

  it('empty config: nothing', () => {
    expect(sshConfigFor('x', '')).toEqual({});
  });
});
