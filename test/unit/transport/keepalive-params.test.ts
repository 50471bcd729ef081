// The keep-alive of each hop (ServerAliveInterval / ServerAliveCountMax, mxplay_keepalive_*):
// mxplay's defaults, the host's ssh_config (files, Include, -F, -o in ansible_ssh_common_args),
// the inventory's variables over both, 0 for none, and every bad value refused, naming the host
// and the variable. With OpenSSH (`ssh -G`) and with the built-in reader.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserError, UserErrors } from '../../../src/errors.ts';
import { checkReservedValue, RESERVED_VARS } from '../../../src/inventory/connection-vars.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import type { Host } from '../../../src/inventory/inventory.ts';
import { KEEPALIVE_DEFAULTS } from '../../../src/transport/connection.ts';
import { connectionParams } from '../../../src/transport/params.ts';
import { resolveParams, SshConfigError } from '../../../src/transport/resolve.ts';
import { convtime, opensshClient, resetSshConfigCache, sshArgsToOptions } from '../../../src/transport/ssh-config.ts';
import { tempDir, writeTree } from '../helpers.ts';

let home: string;
beforeEach(() => {
  home = tempDir();
  vi.stubEnv('HOME', home);
  resetSshConfigCache();
});
afterEach(() => {
  vi.unstubAllEnvs();
  resetSshConfigCache();
});

const host = (vars: Record<string, unknown>): Host => ({
  name: 'h1',
  groups: ['all'],
  vars,
  origins: Object.fromEntries(Object.keys(vars).map((k) => [k, { file: 'inventory/prod/hosts.yml', line: 4, layer: 'host h1 (inventory)' }])),
});

interface Case {
  /** ~/.ssh/config (and files next to it: `name: text`). */
  files?: Record<string, string>;
  vars?: Record<string, unknown>;
  /** interval s, count, from where each came (in the -vvv words). */
  want: [number, number, string, string];
  /** the jump host's, when the host has one */
  jump?: [number, number, string, string];
  /** Include / Match: only ssh -G reads them. */
  opensshOnly?: boolean;
}

const D = 'default';
const CASES: [string, Case][] = [
  ['nothing set: mxplay defaults (3 s, 3)', { want: [3, 3, D, D] }],
  ['ssh_config for the host', { files: { config: 'Host h1\n  ServerAliveInterval 30\n  ServerAliveCountMax 5\n' }, want: [30, 5, 'ssh_config ServerAliveInterval', 'ssh_config ServerAliveCountMax'] }],
  ["ssh_config's time format and = syntax", { files: { config: 'Host *\n  ServerAliveInterval=1m30s\n' }, want: [90, 3, 'ssh_config ServerAliveInterval', D] }],
  ['ssh_config 0 for the host: off, as ssh', { files: { config: 'Host h1\n  ServerAliveInterval 0\n' }, want: [0, 3, 'ssh_config ServerAliveInterval', D] }],
  ['ssh_config 0 for another host only: the default', { files: { config: 'Host other\n  ServerAliveInterval 0\nHost h1\n  Port 2222\n' }, want: [3, 3, D, D] }],
  ['ssh_config for another host only', { files: { config: 'Host other\n  ServerAliveInterval 60\n  ServerAliveCountMax 9\n' }, want: [3, 3, D, D] }],
  ['ssh_config first value wins', { files: { config: 'Host h1\n  ServerAliveInterval 20\nHost *\n  ServerAliveInterval 0\n' }, want: [20, 3, 'ssh_config ServerAliveInterval', D] }],
  ['an Included file', { files: { config: 'Include ~/.ssh/conf.d/*.conf\n', 'conf.d/ka.conf': 'Host h*\n  ServerAliveInterval 0\n  ServerAliveCountMax 1\n' }, want: [0, 1, 'ssh_config ServerAliveInterval', 'ssh_config ServerAliveCountMax'], opensshOnly: true }],
  ['Match', { files: { config: 'Match host h1\n  ServerAliveInterval 4\n' }, want: [4, 3, 'ssh_config ServerAliveInterval', D], opensshOnly: true }],
  ['-o in ansible_ssh_common_args, over ssh_config', {
    files: { config: 'Host h1\n  ServerAliveInterval 30\n  ServerAliveCountMax 5\n' },
    vars: { ansible_ssh_common_args: '-o ServerAliveInterval=7 -o ServerAliveCountMax=2' },
    want: [7, 2, '-o ServerAliveInterval', '-o ServerAliveCountMax'],
  }],
  ['-o ServerAliveInterval=0 in ansible_ssh_extra_args: off', { vars: { ansible_ssh_extra_args: '-oServerAliveInterval=0' }, want: [0, 3, '-o ServerAliveInterval', D] }],
  ['-F in the args: that file', { files: { 'other.conf': 'Host h1\n  ServerAliveInterval 0\n', config: 'Host h1\n  ServerAliveInterval 40\n' }, vars: { ansible_ssh_common_args: '-F ~/.ssh/other.conf' }, want: [0, 3, 'ssh_config ServerAliveInterval', D] }],
  ['the inventory wins over ssh_config and -o', {
    files: { config: 'Host h1\n  ServerAliveInterval 30\n  ServerAliveCountMax 5\n' },
    vars: { ansible_ssh_common_args: '-o ServerAliveInterval=7', mxplay_keepalive_interval: 1.5, mxplay_keepalive_count: '4' },
    want: [1.5, 4, 'mxplay_keepalive_interval', 'mxplay_keepalive_count'],
  }],
  ['mxplay_keepalive_interval 0: off, whatever ssh_config says', { files: { config: 'Host h1\n  ServerAliveInterval 30\n' }, vars: { mxplay_keepalive_interval: 0 }, want: [0, 3, 'mxplay_keepalive_interval', D] }],
  ['each variable on its own: the count from the inventory, the interval from ssh_config', {
    files: { config: 'Host h1\n  ServerAliveInterval 30\n  ServerAliveCountMax 5\n' },
    vars: { mxplay_keepalive_count: 6 },
    want: [30, 6, 'ssh_config ServerAliveInterval', 'mxplay_keepalive_count'],
  }],
  ["a jump host has its own ssh_config's (the -o options are the target's)", {
    files: { config: 'Host h1\n  ProxyJump gw\nHost gw\n  ServerAliveInterval 11\n' },
    vars: { ansible_ssh_common_args: '-o ServerAliveCountMax=2' },
    want: [3, 2, D, '-o ServerAliveCountMax'],
    jump: [11, 3, 'ssh_config ServerAliveInterval', D],
  }],
  ["the inventory's apply to the jump hosts too", {
    files: { config: 'Host h1\n  ProxyJump gw\nHost gw\n  ServerAliveInterval 11\n  ServerAliveCountMax 8\n' },
    vars: { mxplay_keepalive_interval: 2 },
    want: [2, 3, 'mxplay_keepalive_interval', D],
    jump: [2, 8, 'mxplay_keepalive_interval', 'ssh_config ServerAliveCountMax'],
  }],
];

async function resolved(c: Case) {
  writeTree(home, Object.fromEntries(Object.entries(c.files ?? {}).map(([f, t]) => [`.ssh/${f}`, t])));
  return resolveParams(connectionParams(host(c.vars ?? {})));
}
const kaOf = (k: { intervalS: number; countMax: number; intervalFrom: string; countFrom: string }) => [k.intervalS, k.countMax, k.intervalFrom, k.countFrom];

describe.each([
  ['ssh -G', '1'],
  ['the built-in reader', '0'],
])('keep-alive of a host, with %s', (_n, sshG) => {
  beforeEach(() => vi.stubEnv('MXPLAY_SSH_G', sshG));
  if (sshG === '1') it('OpenSSH is installed', () => expect(opensshClient(), 'ssh is not installed: run `npx tsx test/lab/cli.ts tools` as root').not.toBeNull());

  it.each(CASES.filter(([, c]) => sshG === '1' || !c.opensshOnly))('%s', async (_n, c) => {
    const r = await resolved(c);
    expect(kaOf(r.keepalive)).toEqual(c.want);
    if (c.jump) expect(r.jumps.map((j) => kaOf(j.keepalive))).toEqual([c.jump]);
  });

  it('a value ssh would refuse in a config file fails the host with the keyword named', async () => {
    const e = await resolved({ files: { config: 'Host h1\n  ServerAliveInterval soon\n' }, want: [0, 0, '', ''] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SshConfigError);
    expect((e as Error).message).toMatch(sshG === '1' ? /ssh_config of h1: ssh -G h1 failed: .*line 2: invalid time value/ : /ssh_config of h1: ServerAliveInterval soon: invalid time value/);
  });
});

it('the local connection and params given whole (no ssh_config) get the defaults', async () => {
  const p = connectionParams(host({ ansible_connection: 'local' }));
  expect(p.keepalive).toEqual({ ...KEEPALIVE_DEFAULTS, intervalFrom: D, countFrom: D });
  const { ssh: _ssh, keepalive: _k, ...whole } = connectionParams(host({}));
  expect(kaOf((await resolveParams(whole)).keepalive)).toEqual([3, 3, D, D]);
});

describe('bad values are refused, naming the host and the variable', () => {
  it.each<[Record<string, unknown>, string, string]>([
    [{ mxplay_keepalive_interval: 'soon' }, 'mxplay_keepalive_interval', 'mxplay_keepalive_interval must be a number of seconds (0: off), not "soon"'],
    [{ mxplay_keepalive_interval: -1 }, 'mxplay_keepalive_interval', 'mxplay_keepalive_interval must be a number of seconds (0: off), not -1'],
    [{ mxplay_keepalive_interval: '{{ later }}' }, 'mxplay_keepalive_interval', 'mxplay_keepalive_interval must be a number, not "{{ later }}"'],
    [{ mxplay_keepalive_count: 0 }, 'mxplay_keepalive_count', 'mxplay_keepalive_count must be 1 or more, not 0'],
    [{ mxplay_keepalive_count: 2.5 }, 'mxplay_keepalive_count', 'mxplay_keepalive_count must be a whole number, 1 or more, not 2.5'],
    [{ mxplay_keepalive_count: 'three' }, 'mxplay_keepalive_count', 'mxplay_keepalive_count must be a whole number, 1 or more, not "three"'],
    [{ ansible_ssh_common_args: '-o ServerAliveInterval=2.5' }, 'ansible_ssh_common_args', "ansible_ssh_common_args: '-o ServerAliveInterval=2.5': ServerAliveInterval takes seconds (0: no keep-alives) or a time such as 1m30s"],
    [{ ansible_ssh_extra_args: '-o ServerAliveCountMax=-1' }, 'ansible_ssh_extra_args', "ansible_ssh_extra_args: '-o ServerAliveCountMax=-1': ServerAliveCountMax takes a whole number"],
  ])('%j', (vars, key, message) => {
    let e: unknown;
    try {
      connectionParams(host(vars));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UserError);
    expect(e).toMatchObject({ message, context: { file: 'inventory/prod/hosts.yml', line: 4, host: 'h1', key } });
  });

  it('when the inventory is read: file, line, host and key', () => {
    const cwd = writeTree(tempDir(), { hosts: '[web]\nw1 mxplay_keepalive_interval=soon\nw2 mxplay_keepalive_count=0 mxplay_keepalive_interval=0\n' });
    let errors: string[] = [];
    try {
      loadInventory('hosts', cwd);
    } catch (e) {
      errors = (e as UserErrors).errors.map((x) => x.toString().replace(cwd + '/', ''));
    }
    expect(errors).toEqual([
      'hosts:2, host w1, key mxplay_keepalive_interval: mxplay_keepalive_interval must be a number of seconds (0: off), not "soon"',
      'hosts:3, host w2, key mxplay_keepalive_count: mxplay_keepalive_count must be 1 or more, not 0',
    ]);
  });

  it.each<[string, unknown, string | undefined]>([
    ['mxplay_keepalive_interval', 0, undefined],
    ['mxplay_keepalive_interval', '0', undefined],
    ['mxplay_keepalive_interval', 2.5, undefined],
    ['mxplay_keepalive_interval', '15', undefined],
    ['mxplay_keepalive_interval', 'off', 'must be a number of seconds (0: off)'],
    ['mxplay_keepalive_count', 1, undefined],
    ['mxplay_keepalive_count', '10', undefined],
    ['mxplay_keepalive_count', -2, 'must be 1 or more'],
  ])('the table: %s = %j', (name, value, problem) => {
    const entry = RESERVED_VARS.find((v) => v.name === name)!;
    expect(entry).toMatchObject({ status: 'honoured', where: 'inventory' });
    const said = checkReservedValue(entry, value);
    if (problem) expect(said).toContain(problem);
    else expect(said).toBeUndefined();
  });
});

describe('ServerAliveInterval and ServerAliveCountMax in the args are honoured, not dropped', () => {
  it('kept as options for ssh -G', () => {
    expect(sshArgsToOptions('-o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o TCPKeepAlive=no').options).toEqual(['ServerAliveInterval=15', 'ServerAliveCountMax=4']);
  });
  it.each<[string, number | undefined]>([
    ['0', 0], ['15', 15], ['1m30s', 90], ['2H', 7200], ['1w', 604800], ['10s5', 15],
    ['', undefined], ['2.5', undefined], ['-1', undefined], ['1x', undefined], ['s', undefined], ['99999999999', undefined],
  ])('OpenSSH time %j → %j', (text, seconds) => {
    expect(convtime(text)).toBe(seconds);
  });
});
