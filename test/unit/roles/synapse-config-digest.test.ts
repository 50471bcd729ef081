// The digest of Synapse's merged configuration the restart handler compares: the same for the same
// settings however the files are written, different when a setting Synapse reads differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDigestScript } from '../../../roles/synapse/fragment.ts';
import { sh, tempDir, writeTree } from '../helpers.ts';

/** The digest of a homeserver.yaml and conf.d files, by the role's own script under python3. */
function digest(files: Record<string, string>, stamp = false): { out: string; stamp?: string } {
  const d = tempDir();
  writeTree(d, files);
  const script = join(d, 'digest');
  writeFileSync(script, configDigestScript({ package: 'x', python: '/usr/bin/python3', registerCommand: 'x' }, { etc: d, stamp: join(d, 'stamp') }), { mode: 0o755 });
  const r = sh(`${script}${stamp ? ' --stamp' : ''}`);
  expect(r.code, r.stderr).toBe(0);
  return { out: r.stdout.trim(), ...(stamp ? { stamp: readFileSync(join(d, 'stamp'), 'utf8') } : {}) };
}

const base = { 'homeserver.yaml': 'server_name: a\npresence: {enabled: true}\n' };

describe('synapse config digest', () => {
  // Made inside each test: a folder made while tests are collected would outlive the run.
  const reference = () => digest({ ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n' }).out;

  it('is a sha256 of the merged settings', () => expect(reference()).toMatch(/^[0-9a-f]{64}$/));

  it.each([
    ['comments, key order and quoting', { 'homeserver.yaml': '# hand-written\npresence:\n  enabled: true\nserver_name: "a"\n', 'conf.d/listeners.yaml': '# mxplay\nlisteners:\n  - type: http\n    port: 8008\n' }],
    ['another file layout', { ...base, 'conf.d/a.yaml': 'listeners: [{port: 1}]\n', 'conf.d/b.yaml': 'listeners: [{port: 8008, type: http}]\n' }],
    ['a later copy of the same value', { ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n', 'conf.d/zz.yaml': 'presence: {enabled: true}\n' }],
    ['a file that is not YAML config', { ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n', 'conf.d/notes.txt': 'x: 1\n' }],
  ])('is the same across %s', (_, files) => {
    expect(digest(files).out).toBe(reference());
  });

  it.each([
    ['a value', { ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8009, type: http}]\n' }],
    ['a later file overriding a key', { ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n', 'conf.d/zz.yaml': 'presence: {enabled: false}\n' }],
    ['an added key', { ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n', 'conf.d/x.yaml': 'admin_contact: mailto:a@b\n' }],
  ])('differs with %s', (_, files) => {
    expect(digest(files).out).not.toBe(reference());
  });

  it('--stamp writes it to the stamp file, and prints nothing', () => {
    const r = digest({ ...base, 'conf.d/listeners.yaml': 'listeners: [{port: 8008, type: http}]\n' }, true);
    expect(r.out).toBe('');
    expect(r.stamp).toBe(`${reference()}\n`);
  });
});
