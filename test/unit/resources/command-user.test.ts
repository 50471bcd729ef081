import { describe, expect, it } from 'vitest';
import { QUERY_MARK } from '../../../src/resources/facts.ts';
import { command, planCommand, type CommandOptions } from '../../../src/resources/command.ts';
import { group, planGroup, planUser, user, type GroupOptions, type GroupState, type UserOptions, type UserState } from '../../../src/resources/user.ts';
import { parseProbeOutput, probeScript } from '../../../src/engine/scripts.ts';
import type { Resource } from '../../../src/resources/types.ts';
import { expectPlan, sh, type Expected } from '../helpers.ts';

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

describe('command guards, run for real', () => {
  const state = (o: CommandOptions) => JSON.parse(sh(command(o).probe as string).stdout) as { done: boolean };

  it.each([
    ['creates: a path that exists', { creates: '/' }, true],
    ['creates: a path that does not', { creates: '/nonexistent/x y' }, false],
    ['unless: a check that succeeds', { unless: 'true' }, true],
    ['unless: a check that fails, its output hidden', { unless: 'echo noise; false' }, false],
    ['either guard holding is enough', { creates: '/nonexistent', unless: 'true' }, true],
    ['neither holding', { creates: '/nonexistent', unless: 'false' }, false],
  ])('%s → done %s', (_n, o, done) => expect(state({ cmd: 'x', ...o })).toEqual({ done }));

  it('the plan carries the guard to re-check at run time, and says so', () => {
    expect(planCommand({ cmd: 'x', creates: '/a b' }, { done: false })).toEqual({ action: '+', summary: 'run x (creates re-checked at run time)', script: 'x', guard: "[ -e '/a b' ]" });
    expect(planCommand({ cmd: 'x', unless: 'test -e /y' }, { done: false })).toEqual({ action: '+', summary: 'run x (unless re-checked at run time)', script: 'x', guard: '( test -e /y\n) >/dev/null 2>&1' });
    expect(planCommand({ cmd: 'x', creates: '/a', unless: 'u' }, { done: false })).toMatchObject({ summary: 'run x (creates, unless re-checked at run time)', guard: '[ -e /a ] || ( u\n) >/dev/null 2>&1' });
    expect(planCommand({ cmd: 'x' }, { done: false })).toEqual({ action: '+', summary: 'run x', script: 'x' });
  });

  it('an unless check ending in a comment still closes its subshell', () => {
    expect(state({ cmd: 'x', unless: 'true # fine' })).toEqual({ done: true });
  });

  it('doneWhen: the facts decide, no guard at run time', () => {
    const o = { cmd: 'x', creates: '/a', doneWhen: { facts: {}, read: () => false } };
    expect(planCommand(o, { done: false })).toEqual({ action: '+', summary: 'run x', script: 'x' });
  });

  it('the shell the author wrote is listed for the sh -n check: cmd, and unless when given', () => {
    expect(command({ cmd: 'a', unless: 'b' }).snippets).toEqual([{ what: 'cmd', text: 'a' }, { what: 'unless', text: 'b' }]);
    expect(command({ cmd: 'a' }).snippets).toEqual([{ what: 'cmd', text: 'a' }]);
    expect(command({ cmd: 'a', doneWhen: { facts: {}, read: () => true } }).snippets).toEqual([{ what: 'cmd', text: 'a' }]);
    expect(command({ cmd: 'a', notify: 'h', tags: ['t'] })).toMatchObject({ type: 'command', notify: ['h'], tags: ['t'] });
  });

  it('with or without doneWhen: a command resource, named alike, planning from its state', () => {
    const when = { facts: {}, read: () => true };
    for (const o of [{ cmd: 'a b' }, { cmd: 'a b', doneWhen: when }]) {
      expect(command(o)).toMatchObject({ type: 'command', id: 'a b' });
      expect(command({ ...o, name: 'n' }).id).toBe('n');
      expect(command(o).plan({ done: false })).toMatchObject({ action: '+', summary: 'run a b', script: 'a b' });
      expect(command(o).plan({ done: true })).toBeNull();
    }
  });
});

describe('user and group probes, run for real', () => {
  /** The states of these resources, read by the probe script run on this machine. */
  const probeForReal = (...rs: Resource<unknown>[]) => {
    const out = parseProbeOutput(sh(probeScript(rs)).stdout, rs);
    expect(out.errors.filter(Boolean)).toEqual([]);
    return out.states;
  };

  it('root exists, with its home, shell and groups, the primary group first', () => {
    const [s, g] = probeForReal(user({ name: 'root', groups: ['root'] }), group({ name: 'root' })) as [UserState, GroupState];
    expect(s).toMatchObject({ exists: true, home: '/root', group: 'root' });
    expect(s.shell).toMatch(/^\//);
    expect(s.groups!.split(' ')[0]).toBe('root');
    expect(g).toEqual({ exists: true });
  });

  it('a name that does not exist, read beside names that do (each answer is its own)', () => {
    const states = probeForReal(user({ name: 'mxp-no-such-user', group: 'x' }), user({ name: 'root', group: 'root' }), group({ name: 'mxp-no-such-group' }), user({ name: "o'dd|name", groups: ['x'] }));
    expect(states[0]).toEqual({ exists: false });
    expect(states[1]).toMatchObject({ exists: true, group: 'root' });
    expect(states[2]).toEqual({ exists: false });
    expect(states[3]).toEqual({ exists: false });
  });

  it('groups are read only for users whose groups are managed (a process per user on the host)', () => {
    expect(probeScript([user({ name: 'a', shell: '/bin/sh' })])).not.toContain('id -Gn');
    expect(probeScript([user({ name: 'a', groups: ['adm'] })])).toContain('id -Gn');
    const [s] = probeForReal(user({ name: 'root' })) as [UserState];
    expect(s).toEqual({ exists: true, home: '/root', shell: expect.stringMatching(/^\//) });
  });

  it('plans come from the resource itself', () => {
    expect(user({ name: 'u', state: 'absent' }).plan({ exists: true })).toMatchObject({ action: '-' });
    expect(group({ name: 'g', notify: ['h'] })).toMatchObject({ notify: ['h'] });
    expect(group({ name: 'g' }).plan({ exists: false })).toMatchObject({ action: '+', script: 'groupadd g' });
  });
});
