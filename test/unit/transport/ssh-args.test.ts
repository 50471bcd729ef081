import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { expandTokens, jumpsOfProxyCommand, parseJumpList, parseSshG, readSshConfig, splitWords, sshArgsToOptions } from '../../../src/transport/ssh-config.ts';

describe('ansible_ssh_common_args as ssh options', () => {
  it.each([
    ['-o ProxyJump=bastion', ['ProxyJump=bastion']],
    ['-J admin@bastion:2222', ['ProxyJump=admin@bastion:2222']],
    ['-o "ProxyCommand=ssh -W %h:%p -q jump"', ['ProxyCommand=ssh -W %h:%p -q jump']],
    ["-o 'ProxyCommand ssh -W %h:%p jump'", ['ProxyCommand=ssh -W %h:%p jump']],
    ['-oUserKnownHostsFile=/etc/kh -o StrictHostKeyChecking=accept-new', ['UserKnownHostsFile=/etc/kh', 'StrictHostKeyChecking=accept-new']],
    ['-o ControlMaster=auto -o ControlPersist=60s -q -C', []], // tune OpenSSH's own client only
    ['-i ~/.ssh/deploy -p 2200 -l deploy', ['IdentityFile=~/.ssh/deploy', 'Port=2200', 'User=deploy']],
    ['', []],
  ])('%s', (args, want) => {
    expect(sshArgsToOptions(args).options).toEqual(want);
  });

  it.each([
    ['-o ForwardAgent=yes', /ForwardAgent=yes' is not supported/],
    ['-L 8080:localhost:80', /'-L' is not supported/],
    ['-o', /-o needs a value/],
    ['-o "ProxyJump=x', /unterminated/],
    ['-o =x', /not an ssh option/],
  ])('refused, not ignored: %s', (args, want) => {
    expect(() => sshArgsToOptions(args)).toThrow(want);
  });

  it('-F is the config file', () => {
    expect(sshArgsToOptions('-F /etc/ssh/ansible.conf -J b')).toEqual({ options: ['ProxyJump=b'], configFile: '/etc/ssh/ansible.conf' });
  });
});

describe('jump hosts', () => {
  it.each([
    ['bastion', [{ host: 'bastion' }]],
    ['admin@bastion:2222', [{ host: 'bastion', user: 'admin', port: 2222 }]],
    ['a,b@c:3', [{ host: 'a' }, { host: 'c', user: 'b', port: 3 }]],
    ['ssh://u@h:5', [{ host: 'h', user: 'u', port: 5 }]],
    ['u@[2001:db8::1]:22', [{ host: '2001:db8::1', user: 'u', port: 22 }]],
    ['none', []],
  ])('ProxyJump %s', (v, want) => {
    expect(parseJumpList(v)).toEqual(want);
  });

  it('a bad hop is named', () => {
    expect(() => parseJumpList('a b')).toThrow(/not a jump host: 'a b'/);
  });

  it.each([
    ['ssh -W %h:%p -q bastion', { jumps: [{ host: 'bastion' }] }],
    ['ssh -q -W %h:%p -p 2222 -l admin bastion', { jumps: [{ host: 'bastion', user: 'admin', port: 2222 }] }],
    ['/usr/bin/ssh -i /k -o StrictHostKeyChecking=yes -W %h:%p u@b', { jumps: [{ host: 'b', user: 'u' }], identityFile: '/k' }],
    ['ssh -J a -W %h:%p b', { jumps: [{ host: 'a' }, { host: 'b' }] }],
  ])('ProxyCommand %s is a jump', (cmd, want) => {
    expect(jumpsOfProxyCommand(cmd)).toEqual(want);
  });

  it.each(['nc -X 5 -x proxy:1080 %h %p', 'ssh bastion nc %h %p', 'ssh -W other:22 b', 'ssh -W %h:%p a b'])('ProxyCommand %s is refused', (cmd) => {
    expect(() => jumpsOfProxyCommand(cmd)).toThrow(/is not supported.*use ProxyJump/);
  });
});

describe('ssh -G output and tokens', () => {
  it('parses keywords (any case) and keeps every identityfile in order', () => {
    const m = parseSshG('User root\nhostname 10.0.0.5\nport 22\nidentityfile ~/.ssh/id_rsa\nidentityfile %d/.ssh/id_%h\nuserknownhostsfile /a /b\nproxyjump j1,j2\n');
    expect(m.get('user')).toEqual(['root']);
    expect(m.get('identityfile')).toEqual(['~/.ssh/id_rsa', '%d/.ssh/id_%h']);
    expect(m.get('userknownhostsfile')).toEqual(['/a /b']);
    expect(m.get('proxyjump')).toEqual(['j1,j2']);
  });

  it.each([
    ['%d/.ssh/id_%h_%r', `${homedir()}/.ssh/id_web1.example.org_deploy`],
    ['~/.ssh/%n-%p', `${homedir()}/.ssh/web1-2222`],
    ['/keys/100%%', '/keys/100%'],
    ['/keys/%k', '/keys/alias1'],
  ])('expands %s', (v, want) => {
    expect(expandTokens(v, { alias: 'web1', hostname: 'web1.example.org', user: 'deploy', port: 2222, hostKeyAlias: 'alias1' })).toBe(want);
  });

  it('splits words as a shell does', () => {
    expect(splitWords(`-o "A=b c" 'd e' f\\ g ""`)).toEqual(['-o', 'A=b c', 'd e', 'f g', '']);
  });
});

describe('the built-in reader (no OpenSSH client)', () => {
  const CONFIG = 'Host web*\n  User deploy\n  ProxyJump bastion\n  IdentityFile ~/.ssh/web\nHost *\n  Port 2200\n';
  it('Host blocks, first value wins, -o options first, OpenSSH defaults last', () => {
    const m = readSshConfig('web1', CONFIG, { options: ['ProxyJump=other', 'Port=22'] });
    expect(m.get('proxyjump')).toEqual(['other']);
    expect(m.get('port')).toEqual(['22']);
    expect(m.get('user')).toEqual(['deploy']);
    expect(m.get('hostname')).toEqual(['web1']);
    expect(m.get('identityfile')).toEqual(['~/.ssh/web']);
    expect(m.get('globalknownhostsfile')).toEqual(['/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2']);
  });
  it.each(['Match host x\n  User y\n', 'Include ~/.ssh/config.d/*\n'])('refuses what it cannot read: %j', (text) => {
    expect(() => readSshConfig('web1', text, { file: '/home/u/.ssh/config' })).toThrow(/\/home\/u\/\.ssh\/config line 1: (Match|Include) needs OpenSSH's client/);
  });
});
