import { describe, expect, it } from 'vitest';
import { checkReservedName, checkReservedValue, RESERVED_VARS } from '../../../src/inventory/connection-vars.ts';

const entry = (name: string) => RESERVED_VARS.find((v) => v.name === name)!;
const refusal = (key: string, where: 'inventory' | 'play' = 'inventory') => {
  const v = checkReservedName(key, where);
  return v.ok ? undefined : v.message;
};

describe('refused Ansible variables say why, or what to use instead', () => {
  it.each([
    'ansible_become_exe', 'ansible_become_flags', 'ansible_sudo', 'ansible_sudo_user', 'ansible_sudo_exe', 'ansible_sudo_flags',
    'ansible_shell_type', 'ansible_shell_executable', 'ansible_ssh_executable', 'ansible_ssh_args', 'ansible_sftp_extra_args',
    'ansible_scp_extra_args', 'ansible_scp_if_ssh', 'ansible_ssh_transfer_method', 'ansible_host_key_checking',
    'ansible_ssh_host_key_checking', 'ansible_timeout', 'ansible_ssh_timeout', 'ansible_ssh_retries', 'ansible_remote_tmp',
  ])('%s', (key) => {
    // A reason of its own, never a guess at a near name nor the list of every name.
    expect(refusal(key)).toMatch(new RegExp(`^${key}: not supported by mxplay \\((?!mxplay reads ).{8,}\\)$`));
    expect(refusal(key)).not.toContain('did you mean');
  });

  it.each([
    ['ansible_sudo', 'use ansible_become'],
    ['ansible_timeout', 'use mxplay_connect_timeout'],
    ['ansible_ssh_args', 'use ansible_ssh_common_args'],
  ])('%s: %s', (key, hint) => expect(refusal(key)).toContain(hint));

  it('an unknown mxplay_ name lists the mxplay_ names only', () => {
    const m = refusal('mxplay_zzzzzzzzzzzz')!;
    expect(m).toMatch(/^mxplay_zzzzzzzzzzzz: not supported by mxplay \(mxplay reads mxplay_master_secret, mxplay_host_key_checking, /);
    expect(m).not.toContain('ansible_');
  });
});

describe('where a variable may be set', () => {
  const connection = RESERVED_VARS.filter((v) => v.where === 'inventory').map((v) => v.name);

  it.each(connection)('%s: the inventory only', (key) => {
    expect(checkReservedName(key, 'inventory')).toEqual({ ok: true, entry: entry(key) });
    expect(refusal(key, 'play')).toMatch(new RegExp(`^${key}: a connection variable, read from the inventory only`));
  });

  it.each(['mxplay_master_secret', 'ansible_python_interpreter', 'ansible_pipelining', 'ansible_ssh_pipelining'])('%s: anywhere', (key) => {
    expect(checkReservedName(key, 'play')).toEqual({ ok: true, entry: entry(key) });
  });

  it('only ansible_become points at the play keyword', () => {
    expect(refusal('ansible_become', 'play')).toMatch(/\(a play's become: sets it for the play\)$/);
    expect(refusal('ansible_user', 'play')).not.toContain('become:');
  });

  it('names outside the prefixes are not this table', () => {
    expect(checkReservedName('my_ansible_host', 'play')).toEqual({ ok: true });
    expect(checkReservedName('mxplayer', 'play')).toEqual({ ok: true });
  });
});

describe('values of the variables mxplay honours', () => {
  it.each<[string, unknown, RegExp | undefined]>([
    ['ansible_port', 1, undefined],
    ['ansible_port', 65535, undefined],
    ['ansible_port', ' 22 ', undefined],
    ['ansible_port', 0, /must be a port number \(1-65535\), not 0$/],
    ['ansible_port', 65536, /port number/],
    ['ansible_port', 22.5, /port number/],
    ['ansible_port', '22x', /port number/],
    ['ansible_ssh_port', '2222', undefined],
    ['mxplay_connect_timeout', 0.5, undefined],
    ['mxplay_connect_timeout', ' 10 ', undefined],
    ['mxplay_connect_timeout', '10s', /^mxplay_connect_timeout must be a number of seconds, not "10s"$/],
    ['mxplay_connect_timeout', -1, /seconds/],
    ['mxplay_connect_timeout', Infinity, /seconds/],
    ['mxplay_keepalive_interval', 0, undefined],
    ['mxplay_keepalive_interval', '0', undefined],
    ['mxplay_keepalive_interval', -1, /^mxplay_keepalive_interval must be a number of seconds \(0: off\), not -1$/],
    ['mxplay_keepalive_count', 1, undefined],
    ['mxplay_keepalive_count', '3', undefined],
    ['mxplay_keepalive_count', 0, /^mxplay_keepalive_count must be 1 or more, not 0$/],
    ['mxplay_keepalive_count', '2.5', /^mxplay_keepalive_count must be a whole number, 1 or more, not "2.5"$/],
    ['ansible_group_priority', 'x', /^ansible_group_priority must be a whole number, not "x"$/],
    ['ansible_group_priority', -5, undefined],
    ['ansible_user', { a: 1 }, /^ansible_user must be a single value, not a mapping$/],
    ['ansible_user', 'deploy', undefined],
    ['ansible_user', 1000, undefined],
    ['mxplay_verify_resolve', 'inventory', undefined],
    ['mxplay_verify_resolve', 'hosts', /it takes dns, inventory\)$/],
    ['ansible_become', null, undefined],
    ['ansible_become', '{% if x %}yes{% endif %}', undefined],
    ['ansible_python_interpreter', ['anything'], undefined],
  ])('%s = %j', (key, value, want) => {
    const problem = checkReservedValue(entry(key), value);
    if (want) expect(problem).toMatch(want);
    else expect(problem).toBeUndefined();
  });
});
