import { describe, expect, it } from 'vitest';
import { readSshConfig } from '../../../src/transport/ssh-config.ts';

// The reader used when OpenSSH's client is missing (with it, `ssh -G` answers: see resolve.test.ts).
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

Host *
  User last
  IdentityFile /etc/ssh/default_key
`;

const pick = (alias: string, text = CONFIG) => {
  const m = readSshConfig(alias, text);
  return { hostname: m.get('hostname')?.[0], port: m.get('port')?.[0], user: m.get('user')?.[0], identityFile: m.get('identityfile')?.[0] };
};

describe('readSshConfig: ~/.ssh/config as ssh reads it, without OpenSSH', () => {
  it.each([
    ['exact alias: the first value of each key wins', 'hs1', { hostname: '10.0.0.11', port: '2222', user: 'fallback', identityFile: '~/.ssh/lab_ed25519' }],
    ['second name on a Host line', 'hs1.lab', { hostname: '10.0.0.11', port: '2222', user: 'fallback' }],
    ['glob', 'hs2', { hostname: 'hs2', port: '22', user: 'fallback', identityFile: '/etc/ssh/default_key' }],
    ['negated pattern excludes', 'hs9', { hostname: 'hs9', port: '22', user: 'fallback', identityFile: '/etc/ssh/default_key' }],
    ['? glob, %h, key=value, quotes', 'db1', { hostname: 'db1.internal', port: '5022', user: 'fallback' }],
    ['no Host matches: only global and Host *', 'web', { hostname: 'web', user: 'fallback', identityFile: '/etc/ssh/default_key' }],
  ])('%s', (_n, alias, want) => {
    expect(pick(alias)).toMatchObject(want);
  });

  it('keywords are case-insensitive; a dot in a pattern is literal', () => {
    expect(pick('a.b', 'HOST a.b\n  hostname x\n  PORT 23\n')).toMatchObject({ hostname: 'x', port: '23' });
    expect(pick('axb', 'Host a.b\n  HostName x\n')).toMatchObject({ hostname: 'axb', port: '22' });
  });

  it('Match and Include are refused, naming the line: only OpenSSH reads them right', () => {
    expect(() => readSshConfig('foo', 'Host *\n  User a\nMatch host foo\n  User nobody\n', { file: '/root/.ssh/config' })).toThrow(/\/root\/\.ssh\/config line 3: Match needs OpenSSH/);
    expect(() => readSshConfig('foo', 'Include other.conf\n')).toThrow(/line 1: Include needs OpenSSH/);
  });
});
