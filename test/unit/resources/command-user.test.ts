import { describe, expect, it } from 'vitest';
import { QUERY_MARK } from '../../../src/resources/facts.ts';
import { command, planCommand, type CommandOptions } from '../../../src/resources/command.ts';
import { group, planGroup, planUser, user, type GroupOptions, type GroupState, type UserOptions, type UserState } from '../../../src/resources/user.ts';
import { parseProbeOutput } from '../../../src/engine/scripts.ts';
import { expectPlan, type Expected } from '../helpers.ts';

describe('planCommand', () => {
  const rows: { name: string; o: CommandOptions; done: boolean; want: Expected }[] = [
    { name: 'not done: run, named by the first line', o: { cmd: 'synapse_init --generate\necho done' }, done: false, want: { action: '+', summary: 'run synapse_init --generate', has: ['synapse_init --generate\necho done'] } },
    { name: 'not done: run, named by name', o: { cmd: 'x', name: 'init db' }, done: false, want: { action: '+', summary: 'run init db', has: ['x'] } },
    { name: 'done: no-op', o: { cmd: 'x', creates: '/etc/x' }, done: true, want: null },
  ];
  it.each(rows)('$name', ({ o, done, want }) => expectPlan(planCommand(o, { done }), want));
});

describe('command() probe guards', () => {
  it('without guards it is never done', () => {
    expect(command({ cmd: 'x' }).probe).toBe(`echo '{"done":false}'`);
  });
  it('doneWhen reads the batched facts instead of running a guard', () => {
    const c = command({ cmd: 'register', doneWhen: { facts: { sql: [{ db: 'synapse', query: 'SELECT 1' }] }, read: (f) => 'rows' in f.sql('synapse', 'SELECT 1') } });
    const out = ['@@mxp facts sql', '@@db 0', `|${QUERY_MARK} 0`, '|1', '@@mxp pending', ''].join('\n');
    expect(parseProbeOutput(out, [c]).states).toEqual([{ done: true }]);
    expect(parseProbeOutput('@@mxp facts sql\nDOWN|PostgreSQL is not installed\n', [c]).states).toEqual([{ done: false }]);
  });
  it('is identified by name, else by the command', () => {
    expect(command({ cmd: 'a b', name: 'n' }).id).toBe('n');
    expect(command({ cmd: 'a b' }).id).toBe('a b');
  });
});

describe('planGroup', () => {
  const rows: { name: string; o: Partial<GroupOptions>; s: GroupState; want: Expected }[] = [
    { name: 'missing: groupadd', o: {}, s: { exists: false }, want: { action: '+', summary: 'create', has: ['groupadd matrix'], lacks: ['--system'] } },
    { name: 'missing system group', o: { system: true }, s: { exists: false }, want: { action: '+', summary: 'create (system)', has: ['groupadd --system matrix'] } },
    { name: 'exists: no-op', o: {}, s: { exists: true }, want: null },
    { name: 'absent: groupdel', o: { state: 'absent' }, s: { exists: true }, want: { action: '-', summary: 'remove', has: ['groupdel matrix'] } },
    { name: 'absent and gone: no-op', o: { state: 'absent' }, s: { exists: false }, want: null },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planGroup({ name: 'matrix', ...o }, s), want));
});

describe('planUser', () => {
  const have: UserState = { exists: true, home: '/var/lib/synapse', shell: '/usr/sbin/nologin', group: 'synapse', groups: 'synapse ssl-cert' };
  const rows: { name: string; o: Partial<UserOptions>; s: UserState; want: Expected }[] = [
    {
      name: 'missing: useradd with everything given',
      o: { system: true, home: '/var/lib/synapse', shell: '/usr/sbin/nologin', group: 'synapse', groups: ['ssl-cert', 'adm'] },
      s: { exists: false },
      want: { action: '+', summary: 'create', has: ['useradd --system --create-home --home-dir /var/lib/synapse --shell /usr/sbin/nologin --gid synapse --groups ssl-cert,adm synapse'] },
    },
    { name: 'missing, no home: no --create-home', o: {}, s: { exists: false }, want: { action: '+', summary: 'create', has: ['useradd synapse'], lacks: ['--create-home', '--system'] } },
    { name: 'exists and matches: no-op', o: { home: '/var/lib/synapse', shell: '/usr/sbin/nologin', group: 'synapse', groups: ['ssl-cert'] }, s: have, want: null },
    { name: 'unspecified attributes are left alone', o: {}, s: have, want: null },
    { name: 'shell differs: usermod', o: { shell: '/bin/bash' }, s: have, want: { action: '~', summary: 'shell /usr/sbin/nologin → /bin/bash', has: ['usermod --shell /bin/bash synapse'] } },
    { name: 'home differs', o: { home: '/srv/synapse' }, s: have, want: { action: '~', summary: 'home /var/lib/synapse → /srv/synapse', has: ['usermod --home /srv/synapse synapse'] } },
    { name: 'primary group differs', o: { group: 'matrix' }, s: have, want: { action: '~', summary: 'group synapse → matrix', has: ['--gid matrix'] } },
    {
      name: 'only missing supplementary groups are appended; others are left alone',
      o: { groups: ['ssl-cert', 'adm', 'www-data'] },
      s: have,
      want: { action: '~', summary: 'add to adm,www-data', has: ['usermod --append --groups adm,www-data synapse'], lacks: ['ssl-cert'] },
    },
    { name: 'several differences in one usermod', o: { shell: '/bin/sh', groups: ['adm'] }, s: have, want: { action: '~', summary: 'shell /usr/sbin/nologin → /bin/sh, add to adm', has: ['usermod --shell /bin/sh --append --groups adm synapse'] } },
    { name: 'absent: userdel', o: { state: 'absent' }, s: have, want: { action: '-', summary: 'remove', has: ['userdel synapse'] } },
    { name: 'absent and gone: no-op', o: { state: 'absent' }, s: { exists: false }, want: null },
  ];
  it.each(rows)('$name', ({ o, s, want }) => expectPlan(planUser({ name: 'synapse', ...o }, s), want));

  it('user() and group() are identified by name', () => {
    expect(user({ name: 'u' })).toMatchObject({ type: 'user', id: 'u' });
    expect(group({ name: 'g' })).toMatchObject({ type: 'group', id: 'g' });
  });
});
