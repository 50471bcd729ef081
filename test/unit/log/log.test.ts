// The verbose log (src/log.ts): levels, lazy messages, masking of every rendering of a secret on
// stderr and in the log file, the file's timestamps, appending, and a file that cannot be opened.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { closeLog, configureLog, logs, since, verbose, verbosity } from '../../../src/log.ts';
import { renderings, SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir } from '../helpers.ts';
import { capture } from './capture.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

describe('levels', () => {
  it.each([0, 1, 2, 3])('at verbosity %i, lines of that level and below are shown, not above', (v) => {
    const out = capture();
    configureLog({ verbosity: v, secrets: new SecretRegistry(), stream: out.stream });
    for (const level of [1, 2, 3] as const) verbose(level, 'h1', `line at ${level}`);
    const shown = [1, 2, 3].filter((l) => out.text().includes(`[h1] line at ${l}\n`));
    expect(shown).toEqual([1, 2, 3].filter((l) => l <= v));
    expect(verbosity()).toBe(v);
  });

  it('counts above 3 are 3; a line without a host has no prefix; nothing at all before configureLog or after closeLog', () => {
    const out = capture();
    verbose(1, 'h1', 'before');
    configureLog({ verbosity: 7, secrets: new SecretRegistry(), stream: out.stream });
    expect(verbosity()).toBe(3);
    verbose(3, undefined, 'about the run');
    closeLog();
    closeLog(); // idempotent
    verbose(1, 'h1', 'after');
    expect(out.text()).toBe('about the run\n');
    expect(verbosity()).toBe(0);
    expect(logs(1)).toBe(false);
  });

  it('a message of several lines is one block: the first line prefixed, the others marked "| "', () => {
    const out = capture();
    configureLog({ verbosity: 2, secrets: new SecretRegistry(), stream: out.stream });
    verbose(2, 'web1', 'probe script:\necho one\necho two\n');
    expect(out.text()).toBe('[web1] probe script:\n[web1] | echo one\n[web1] | echo two\n');
  });
});

describe('lazy messages', () => {
  it('are not made when no sink takes their level, and made once when both do', () => {
    const out = capture();
    const file = join(tempDir(), 'run.log');
    configureLog({ verbosity: 1, file, secrets: new SecretRegistry(), stream: out.stream });
    let calls = 0;
    const make = () => {
      calls++;
      return 'costly';
    };
    verbose(2, 'h', make);
    verbose(3, 'h', make);
    expect(calls).toBe(0);
    expect(logs(2)).toBe(false);
    verbose(1, 'h', make);
    expect(calls).toBe(1);
    expect(out.text()).toBe('[h] costly\n');
    expect(readFileSync(file, 'utf8')).toContain('[h] costly\n');
  });

  it('a message that throws is logged as such, not thrown into the run', () => {
    const out = capture();
    configureLog({ verbosity: 1, secrets: new SecretRegistry(), stream: out.stream });
    verbose(1, 'h', () => {
      throw new Error('boom');
    });
    expect(out.text()).toContain('could not be made: boom');
  });
});

describe('masking', () => {
  // Quotes, a backslash, a line break, characters URL and HTML encodings change, and non-ASCII:
  // every rendering the registry knows differs from the raw value.
  const SECRET = `s3cr"et'\\ value&<x>+/?\nsecond line é☃ more`;

  it('every rendering the registry knows of a secret is masked, on stderr and in the file, also one registered after configureLog', () => {
    const secrets = new SecretRegistry();
    const out = capture();
    const file = join(tempDir(), 'run.log');
    configureLog({ verbosity: 3, file, secrets, stream: out.stream });
    secrets.add(SECRET); // registered while the build reads inputs, after the log is set up
    const forms = renderings(SECRET);
    expect(forms.length).toBeGreaterThan(10);
    for (const [i, f] of forms.entries()) verbose((1 + (i % 3)) as 1 | 2 | 3, 'h1', `form ${i}: <${f}> end`);
    verbose(2, 'h1', () => `script:\nprintf '%s' '${SECRET.replaceAll("'", `'\\''`)}' > /etc/x\n${JSON.stringify({ v: SECRET })}`);
    for (const text of [out.text(), readFileSync(file, 'utf8')]) {
      for (const f of forms) expect(text, `rendering ${JSON.stringify(f)}`).not.toContain(f);
      expect(text).toContain('********');
      // every line was logged (masked), none dropped
      for (let i = 0; i < forms.length; i++) expect(text).toContain(`form ${i}: <`);
    }
  });

  it('a secret of several lines is masked as a block, also its short lines', () => {
    const secrets = new SecretRegistry();
    secrets.add('first-line-of-it\nab\nlast-line-of-it');
    const out = capture();
    configureLog({ verbosity: 1, secrets, stream: out.stream });
    verbose(1, 'h', 'key: |\n  first-line-of-it\n  ab\n  last-line-of-it\nnext: 1');
    expect(out.text()).toBe('[h] key: |\n[h] |   ********\n[h] | next: 1\n');
  });
});

describe('the log file', () => {
  it('holds the same lines, each with an ISO timestamp and the host, at least at -v even without -v', () => {
    const out = capture();
    const file = join(tempDir(), 'run.log');
    configureLog({ verbosity: 0, file, secrets: new SecretRegistry(), stream: out.stream });
    verbose(1, 'h1', 'connected in 0.1s');
    verbose(1, undefined, 'inputs read');
    verbose(2, 'h1', 'a script');
    verbose(1, 'h1', 'two\nlines');
    closeLog();
    expect(out.text()).toBe('');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(ISO);
    expect(lines.map((l) => l.replace(ISO, ''))).toEqual([
      expect.stringMatching(/^mxplay started \(pid \d+, verbosity 0\)$/),
      '[h1] connected in 0.1s',
      'inputs read',
      '[h1] two',
      '[h1] | lines',
    ]);
  });

  it('at -vv, the file has the -vv lines too', () => {
    const out = capture();
    const file = join(tempDir(), 'run.log');
    configureLog({ verbosity: 2, file, secrets: new SecretRegistry(), stream: out.stream });
    verbose(2, 'h1', 'a script');
    verbose(3, 'h1', 'transport');
    expect(out.text()).toBe('[h1] a script\n');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/Z \[h1\] a script\n/);
    expect(text).not.toContain('transport');
  });

  it('is appended to, never truncated, and created private (0600)', () => {
    const dir = tempDir();
    const file = join(dir, 'run.log');
    writeFileSync(file, 'earlier content\n');
    for (const run of ['first', 'second']) {
      configureLog({ verbosity: 0, file, secrets: new SecretRegistry(), stream: capture().stream });
      verbose(1, 'h', `${run} run`);
      closeLog();
    }
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('earlier content\n')).toBe(true);
    expect(text.indexOf('first run')).toBeLessThan(text.indexOf('second run'));
    const fresh = join(dir, 'new.log');
    configureLog({ verbosity: 0, file: fresh, secrets: new SecretRegistry(), stream: capture().stream });
    closeLog();
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['a missing folder', (d: string) => join(d, 'no-such-dir', 'run.log'), /its folder does not exist/],
    ['a folder', (d: string) => d, /it is a folder/],
    ['a path through a file', (d: string) => (writeFileSync(join(d, 'f'), ''), join(d, 'f', 'run.log')), /not a folder/],
  ])('%s: a UserError naming the file, before anything is logged', (_what, path, why) => {
    const dir = tempDir();
    const file = path(dir);
    let err: unknown;
    try {
      configureLog({ verbosity: 1, file, secrets: new SecretRegistry(), stream: capture().stream });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).context.file).toBe(file);
    expect((err as UserError).toString()).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot open the log file for appending: `));
    expect((err as UserError).message).toMatch(why);
    expect(logs(1)).toBe(false);
  });

  it('a file without write permission is a UserError (unless root, who may write anyway)', () => {
    if (process.getuid?.() === 0) return;
    const dir = tempDir();
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o500);
    expect(() => configureLog({ verbosity: 1, file: join(dir, 'ro', 'x.log'), secrets: new SecretRegistry() })).toThrow(/permission denied/);
  });

  it('since() gives seconds with milliseconds', () => {
    expect(since(Date.now() - 1500)).toMatch(/^1\.5\d\ds$/);
  });
});
