import { describe, expect, it } from 'vitest';
import { dbArg } from '../../../src/resources/postgres.ts';
import { QUERY_MARK } from '../../../src/resources/facts.ts';
import { decoded } from '../helpers.ts';
import { applyScript, parseApplyOutput, parseProbeOutput, probeScript, PENDING_FILE } from '../../../src/engine/scripts.ts';
import type { Resource } from '../../../src/resources/types.ts';

const res = (probe: string | Resource['probe']): Resource => ({ type: 't', id: String(probe), probe, plan: () => null, notify: [], tags: [] });
/** n resources with shell probes (parsing does not run them). */
const shells = (n: number) => Array.from({ length: n }, (_, i) => res(`echo ${i}`));

describe('parseProbeOutput', () => {
  it('reads one JSON state per probe, by index, and the pending handlers', () => {
    const out = ['@@mxp probe 0', '{"kind":"none"}', '@@mxp probe 1', '{"done":true}', '@@mxp pending', 'restart nginx', '', 'reload synapse', ''].join('\n');
    expect(parseProbeOutput(out, shells(2))).toEqual({
      states: [{ kind: 'none' }, { done: true }],
      errors: [undefined, undefined],
      pending: ['restart nginx', 'reload synapse'],
    });
  });

  it('takes the last non-empty line of a probe (tools may chatter before it)', () => {
    const out = '@@mxp probe 0\nsome warning\n{"a":1}\n\n@@mxp pending\n';
    expect(parseProbeOutput(out, shells(1)).states[0]).toEqual({ a: 1 });
  });

  it('a probe that printed nothing is an error for that resource only', () => {
    const out = '@@mxp probe 0\n@@mxp probe 1\n{"ok":true}\n@@mxp pending\n';
    const r = parseProbeOutput(out, shells(2));
    expect(r.errors[0]).toBe('the probe printed nothing');
    expect(r.errors[1]).toBeUndefined();
    expect(r.states[1]).toEqual({ ok: true });
  });

  it('a probe whose section is missing entirely (the script died) is an error', () => {
    const r = parseProbeOutput('@@mxp probe 0\n{}\n', shells(3));
    expect(r.errors).toEqual([undefined, 'the probe printed nothing', 'the probe printed nothing']);
    expect(r.pending).toEqual([]);
  });

  it('non-JSON output is an error quoting what was printed', () => {
    const r = parseProbeOutput('@@mxp probe 0\nsh: 1: stat: not found\n@@mxp pending\n', shells(1));
    expect(r.errors[0]).toMatch(/not JSON: sh: 1: stat: not found/);
    expect(r.states[0]).toBeUndefined();
  });

  it('a probe that failed: its exit status and its own stderr (base64 after its end line) for that resource', () => {
    const err = Buffer.from('sh: 1: Syntax error: Unterminated quoted string\n').toString('base64');
    const out = ['@@mxp probe 0', '', '@@mxp end 0 2', err, '@@mxp probe 1', '{"ok":true}', '', '@@mxp end 1 0', '@@mxp pending', ''].join('\n');
    const r = parseProbeOutput(out, shells(2));
    expect(r.errors).toEqual(['the probe failed (exit 2): sh: 1: Syntax error: Unterminated quoted string', undefined]);
    expect(r.states[1]).toEqual({ ok: true });
  });

  it('valid JSON wins over a non-zero exit (a tool that fails after the state was printed)', () => {
    const out = ['@@mxp probe 0', '{"a":1}', '', '@@mxp end 0 1', Buffer.from('warning\n').toString('base64'), ''].join('\n');
    expect(parseProbeOutput(out, shells(1))).toMatchObject({ states: [{ a: 1 }], errors: [undefined] });
  });

  it('an end line printed by the probe itself is not taken for the real one: the last one is', () => {
    const out = ['@@mxp probe 0', '@@mxp end 0 0', '{"real":true}', '', '@@mxp end 0 0', '@@mxp pending', ''].join('\n');
    expect(parseProbeOutput(out, shells(1))).toMatchObject({ states: [{ real: true }], errors: [undefined] });
  });

  it('a probe the script never finished (it died before): the script\'s own stderr is quoted', () => {
    const out = ['@@mxp probe 0', '{}', '', '@@mxp end 0 0', '@@mxp probe 1', ''].join('\n');
    const r = parseProbeOutput(out, shells(3), 'sh: 7: Syntax error: end of file unexpected\n');
    expect(r.errors).toEqual([undefined, 'the probe did not run to its end: sh: 7: Syntax error: end of file unexpected', 'the probe did not run to its end: sh: 7: Syntax error: end of file unexpected']);
  });

  it('ignores lines before the first marker', () => {
    const r = parseProbeOutput('motd banner\n@@mxp probe 0\n{"x":2}\n', shells(1));
    expect(r.states[0]).toEqual({ x: 2 });
  });
});

describe('facts read for all resources at once', () => {
  const facts = [
    '@@mxp facts paths',
    'S|f|644|root|root|0|0|4|/etc/a',
    'S|d|755|root|adm|0|4|4096|/etc/d',
    'S|l|777|root|root|0|0|7|/etc/l',
    'S|f|600|root|root|0|0|0|/etc/odd|name',
    'S|p|644|root|root|0|0|0|/etc/p',
    'S|f|644|daemon|root|1|0|0|/etc/daemon',
    'S|f|644|odd|root|9|0|0|/etc/o|dd',
    `H|${'a'.repeat(64)}|/etc/a`,
    `H|${'e'.repeat(64)}|/etc/odd|name`,
    'C|/etc/a|6f6c640a',
    '@@mxp facts users',
    'root:x:0:0:root:/root:/bin/bash',
    '@@mxp facts groups',
    'adm:x:4:',
    '@@mxp facts packages',
    'nginx|ii |1.26.0-1',
    'libc6:amd64|ii |2.40-1',
    'gone|un |',
  ].join('\n');
  const probeOf = (read: (f: import('../../../src/resources/facts.ts').Facts) => unknown) => res({ facts: {}, read });

  it.each([
    ['a file, with its sha and the content sent because it differs', (f) => f.path('/etc/a'), { kind: 'file', mode: '644', owner: 'root', group: 'root', uid: '0', gid: '0', size: 4, sha: 'a'.repeat(64), content: 'b2xkCg==' }],
    ['a directory', (f) => f.path('/etc/d')?.kind, 'dir'],
    ['a symlink, not followed', (f) => f.path('/etc/l')?.kind, 'link'],
    ['a path with a | in its name', (f) => f.path('/etc/odd|name')?.sha, 'e'.repeat(64)],
    ['a FIFO is other', (f) => f.path('/etc/p')?.kind, 'other'],
    ['a path stat did not print does not exist', (f) => f.path('/etc/none'), undefined],
    ['a user getent printed exists', (f) => f.user('root'), true],
    ['a user it did not print does not', (f) => f.user('synapse'), false],
    ['a group getent printed, or one a path shows as its group, exists', (f) => [f.group('adm'), f.group('root'), f.group('wheel')], [true, true, false]],
    ['a user a path shows as its owner exists', (f) => f.user('daemon'), true],
    ['an owner shown only by a line of more than 9 fields (a | in the path) is not taken', (f) => f.user('odd'), false],
    ['a package by name', (f) => f.pkg('nginx'), { status: 'ii ', version: '1.26.0-1' }],
    ['an arch-qualified package by its plain name too', (f) => f.pkg('libc6')?.status, 'ii '],
    ['a package dpkg knows but has not installed', (f) => f.pkg('gone'), { status: 'un ', version: '' }],
    ['a package dpkg does not know', (f) => f.pkg('nope'), undefined],
  ] as [string, (f: import('../../../src/resources/facts.ts').Facts) => unknown, unknown][])('%s', (_, read, want) => {
    const r = parseProbeOutput(`${facts}\n@@mxp pending\n`, [probeOf(read)]);
    expect(r.errors[0]).toBeUndefined();
    expect(r.states[0]).toEqual(want);
  });

  const sqlOf = (db: string, query: string) => res({ facts: { sql: [{ db, query }] }, read: (f) => f.sql(db, query) });
  const debconfOf = (q: string) => res({ facts: { debconf: [q] }, read: (f) => f.debconf(q) });

  it.each([
    ['rows split on |, an empty value kept', ['@@db 0', `|${QUERY_MARK} 0`, '|UTF8|C', `|${QUERY_MARK} 1`, '|'], [{ rows: [['UTF8', 'C']] }, { rows: [['']] }]],
    ['no row', ['@@db 0', `|${QUERY_MARK} 0`, `|${QUERY_MARK} 1`], [{ rows: [] }, { rows: [] }]],
    ['a row that looks like the markers is a row (its value cannot know the token)', ['@@db 0', `|${QUERY_MARK} 0`, '|@@q 1', '|@@db 1', `|${QUERY_MARK} 1`], [{ rows: [['@@q 1'], ['@@db 1']] }, { rows: [] }]],
    ['psql missing', ['DOWN|PostgreSQL is not installed'], [{ down: 'PostgreSQL is not installed' }, { down: 'PostgreSQL is not installed' }]],
    ['the server does not answer', ['@@db 0', '|psql: error: connection to server on socket failed'],
      [{ down: 'PostgreSQL does not answer: error: connection to server on socket failed' }, { down: 'PostgreSQL does not answer: error: connection to server on socket failed' }]],
    ['a failing query stops the ones after it', ['@@db 0', `|${QUERY_MARK} 0`, '|psql:<stdin>:2: ERROR:  relation "users" does not exist'],
      [{ down: 'PostgreSQL: ERROR:  relation "users" does not exist' }, { down: 'PostgreSQL does not answer: ERROR:  relation "users" does not exist' }]],
  ])('sql: %s', (_, lines, want) => {
    const out = ['@@mxp facts sql', ...lines, '@@mxp pending', ''].join('\n');
    expect(parseProbeOutput(out, [sqlOf('postgres', 'SELECT a'), sqlOf('postgres', 'SELECT b')]).states).toEqual(want);
  });

  it('debconf: one answer line per question, in the order asked; a non-zero code is no answer', () => {
    const out = ['@@mxp facts debconf', '0 matrix.example.org', '10 pkg/b doesn\'t exist', '0', '@@mxp pending', ''].join('\n');
    expect(parseProbeOutput(out, [debconfOf('pkg/a'), debconfOf('pkg/b'), debconfOf('pkg/c')]).states).toEqual(['matrix.example.org', null, '']);
    const script = probeScript([debconfOf('pkg/a'), debconfOf('pkg/b')]);
    expect(script.match(/debconf-communicate/g)).toHaveLength(1);
    expect(script).toContain("printf 'GET %s\\nGET %s\\n' pkg/a pkg/b | debconf-communicate");
  });

  it('sql: one psql session per database, each query after its marker', () => {
    const s = probeScript([sqlOf('postgres', 'SELECT a'), sqlOf('synapse', 'SELECT b'), sqlOf('postgres', 'SELECT c')]);
    expect(s.match(/runuser -u postgres -- psql/g)).toHaveLength(2);
    expect(decoded(s)).toContain(`\\echo ${QUERY_MARK} 0\nSELECT a;\n\\echo ${QUERY_MARK} 2\nSELECT c;`);
    expect(s).toContain(`-d ${dbArg('synapse')}`);
  });

  it('a fact probe that throws is an error for that resource only; shell probes keep their indexes', () => {
    const out = `${facts}\n@@mxp probe 1\n{"done":true}\n@@mxp pending\n`;
    const r = parseProbeOutput(out, [probeOf(() => { throw new Error('bad'); }), res('echo')]);
    expect(r.errors).toEqual(['cannot read the state: bad', undefined]);
    expect(r.states[1]).toEqual({ done: true });
  });

  it('the script asks each distinct path, user, group and package once, in one command each', () => {
    const s = probeScript([
      res({ facts: { paths: [{ path: '/etc/a', sha: 'f'.repeat(64) }], users: ['root'], packages: ['nginx'] }, read: () => ({}) }),
      res({ facts: { paths: [{ path: '/etc/a' }, { path: '/etc/b c' }], users: ['root', 'www-data'], groups: ['adm'], packages: ['nginx', 'curl'] }, read: () => ({}) }),
      res('echo shell'),
    ]);
    expect(s.match(/^find /gm)).toHaveLength(1);
    expect(s).toContain("find /etc/a '/etc/b c' -maxdepth 0 -fprintf \"$MXP_T/stat\" 'S|%y|%m|%u|%g|%U|%G|%s|%p\\n' -type f -exec sha256sum -- {} +");
    // One sha256sum for all files; the paths asked and the content wanted reach awk as one list
    expect(s.match(/sha256sum/g)).toHaveLength(1);
    expect(s).toContain(`printf '%s\\n' '${'f'.repeat(64)} /etc/a' '${'-'.repeat(64)} /etc/b c' > "$MXP_T/want"`);
    expect(s).toContain('getent passwd root www-data');
    // a group (and an owner) need only exist: asked only if no probed path shows it (awk lists those)
    expect(s).toContain(`printf '%s\\n' 'g|adm' > "$MXP_T/owners"`);
    expect(s).toContain('mxp_getent group "$MXP_T/groups"');
    expect(s).not.toContain('getent group adm');
    expect(s).toMatch(/dpkg-query -W .* nginx curl/);
    expect(s).toContain('@@mxp probe 2');
    expect(s).not.toContain('@@mxp probe 0');
  });
});

describe('probeScript', () => {
  it('marks each probe with its index, keeps its stderr for its own end line, and ends with the pending handlers', () => {
    const s = probeScript([res('echo a'), res('echo b')]);
    expect(s.indexOf('@@mxp probe 0')).toBeLessThan(s.indexOf('echo a'));
    expect(s.indexOf('echo a')).toBeLessThan(s.indexOf('@@mxp probe 1'));
    expect(s).toContain('( echo b\n) 2>"$MXP_T/pe"');
    expect(s).toContain('@@mxp end 1 $MXP_PC');
    expect(s.indexOf('@@mxp pending')).toBeGreaterThan(s.indexOf('echo b'));
    expect(s).toContain(`done < ${PENDING_FILE}`);
  });
});

describe('parseApplyOutput', () => {
  it('all steps ok and done', () => {
    const r = parseApplyOutput('@@mxp ok 0\n@@mxp ok 1\n@@mxp valid 0\n@@mxp done\n');
    expect([...r.ok]).toEqual([0, 1]);
    expect([...r.valid]).toEqual([0]);
    expect(r.failed).toBeUndefined();
    expect(r.done).toBe(true);
  });

  it('a failed step: which, exit code and its captured output (blank lines kept inside)', () => {
    const r = parseApplyOutput(['@@mxp ok 0', '@@mxp fail 1 100', '@@out E: Unable to locate package nginxx', '@@out', '@@out second line', ''].join('\n'));
    expect([...r.ok]).toEqual([0]);
    expect(r.failed).toEqual({ step: '1', code: 100, output: 'E: Unable to locate package nginxx\n\nsecond line', rolledBack: false });
    expect(r.done).toBe(false);
  });

  it('a failed validation that rolled back', () => {
    const r = parseApplyOutput('@@mxp ok 0\n@@mxp ok 1\n@@mxp fail validate:0 1\n@@out nginx: [emerg] unknown directive\n@@mxp rolledback\n');
    expect(r.failed).toEqual({ step: 'validate:0', code: 1, output: 'nginx: [emerg] unknown directive', rolledBack: true });
    expect(r.valid.size).toBe(0);
  });

  it('"rolledback" without a failure is ignored; no done marker means the script did not finish', () => {
    const r = parseApplyOutput('@@mxp rolledback\n@@mxp ok 0\n');
    expect(r.failed).toBeUndefined();
    expect(r.done).toBe(false);
  });

  it('stray output is not mistaken for markers', () => {
    const r = parseApplyOutput('  @@mxp ok 3\n@@mxp ok 3x\n@@mxp done\n');
    expect(r.ok.size).toBe(0);
    expect(r.done).toBe(true);
  });
});

describe('applyScript', () => {
  it('records a notification right after its own step, and those of a validation set only after the check', () => {
    const s = applyScript([
      { kind: 'change', id: 0, script: 'step0', notify: ['h0'] },
      { kind: 'change', id: 1, script: 'step1', notify: ['h1'], group: 0 },
      { kind: 'validate', group: 0, command: 'check', notify: ['h1'] },
    ]);
    expect(s.indexOf("mxp_notify h0")).toBeGreaterThan(s.indexOf('@@mxp ok 0'));
    expect(s.indexOf("mxp_notify h0")).toBeLessThan(s.indexOf('step1'));
    expect(s.indexOf("mxp_notify h1")).toBeGreaterThan(s.indexOf('@@mxp valid 0'));
    expect(s.indexOf('MXP_RBON=1')).toBeLessThan(s.indexOf('step1'));
    expect(s.trimEnd().endsWith('echo "@@mxp done"\n}')).toBe(true);
  });
});
