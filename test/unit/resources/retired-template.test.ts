import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { retiredFiles } from '../../../src/resources/retired.ts';
import { renderTemplate, template } from '../../../src/resources/template.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { heredocPayload, sh, tempDir, writeTree } from '../helpers.ts';

describe('retiredFiles: files a role wrote once and the inventory no longer declares', () => {
  const retired = (dir: string, keep: string[]) =>
    retiredFiles({
      type: 'ca cert', dir, extension: '.crt', keep,
      summary: (gone) => `retire ${gone.join(', ')}`,
      retire: (n) => `rm ${n}.crt`,
      notify: ['reload'],
    });

  it("the probe reads the role's names only: [a-z0-9_-] with the extension, nothing else in the folder", () => {
    const dir = writeTree(tempDir(), {
      'a.crt': '', 'b-2_x.crt': '', 'Upper.crt': '', '-dash.crt': '', 'a.crtx': '', 'a.pem': '', 'sp ace.crt': '', 'acrt': '',
    });
    const out = sh(retired(dir, []).probe as string);
    expect(JSON.parse(out.stdout)).toEqual({ names: ['a', 'b-2_x'] });
  });

  it('a folder that does not exist (or is empty) has no names', () => {
    expect(JSON.parse(sh(retired(join(tempDir(), 'none'), []).probe as string).stdout)).toEqual({ names: [] });
    expect(JSON.parse(sh(retired(tempDir(), []).probe as string).stdout)).toEqual({ names: [] });
  });

  it.each([
    ['every name kept: nothing to do', { names: ['a', 'b'] }, ['a', 'b'], null],
    ['no names read: nothing to do', {}, [], null],
    ['the names not kept are retired, one command each', { names: ['a', 'b', 'c'] }, ['b'], { action: '-', summary: 'retire a, c', script: 'rm a.crt\nrm c.crt' }],
  ])('%s', (_n, state, keep, want) => {
    const r: Resource = retired('/etc/x', keep);
    expect(r.plan(state)).toEqual(want);
  });

  it('is one resource per folder, notifying what the role says', () => {
    expect(retired('/etc/x', [])).toMatchObject({ type: 'ca cert', id: 'retired from /etc/x', notify: ['reload'], tags: [] });
    expect(retiredFiles({ type: 't', dir: '/d', extension: '.x', keep: [], summary: () => '', retire: () => '' }).notify).toEqual([]);
  });
});

describe('templates', () => {
  const ctx = (roleDir: string) => ({ roleName: 'web', roleDir, hostName: 'hs1', vars: { domain: 'example.org', port: 80 } });

  it('render with the role vars, the host name, and data over the vars; no HTML escaping', () => {
    const dir = writeTree(tempDir(), { 'templates/a.conf.ejs': '<%= host %> <%= domain %>:<%= port %> <%= raw %>\n' });
    const r = template({ path: '/etc/a.conf', src: 'a.conf.ejs', data: { port: 8080, raw: `<&>"'` }, mode: 0o640 }).prepare(ctx(dir)) as Resource;
    expect(r).toMatchObject({ type: 'template', id: '/etc/a.conf' });
    const c = r.plan({ kind: 'none' }) as Change;
    expect(heredocPayload(c.script)).toBe(`hs1 example.org:8080 <&>"'\n`);
    expect(c.summary).toMatch(/0640/);
  });

  it('one template rendered for many hosts or tenants: each render its own data; an edited file renders anew', () => {
    const dir = writeTree(tempDir(), { 't.ejs': '<%= name %>\n' });
    const path = join(dir, 't.ejs');
    expect(['a', 'b', 'a'].map((name) => renderTemplate(path, { name }, ctx(dir)))).toEqual(['a\n', 'b\n', 'a\n']);
    writeTree(dir, { 't.ejs': '[<%= name %>]\n' });
    expect(renderTemplate(path, { name: 'a' }, ctx(dir))).toBe('[a]\n');
    // a template that fails at render time fails each time, not only the first
    writeTree(dir, { 'u.ejs': '<%= missing %>' });
    for (let i = 0; i < 2; i++) expect(() => renderTemplate(join(dir, 'u.ejs'), {}, ctx(dir))).toThrow(/missing is not defined/);
  });

  it('a missing template names the path, the role and the host', () => {
    const e = (() => {
      try {
        renderTemplate('/nonexistent/x.ejs', {}, ctx('/r'));
      } catch (err) {
        return err as UserError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('template not found: /nonexistent/x.ejs');
    expect(e.context).toMatchObject({ role: 'web', host: 'hs1' });
  });

  it('a template that fails names the file, the role and the host, with what failed', () => {
    const dir = writeTree(tempDir(), { 'bad.ejs': 'a\n<%= missing_var %>\n' });
    try {
      renderTemplate(join(dir, 'bad.ejs'), {}, ctx(dir));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).message).toMatch(/^template failed: .*missing_var is not defined/s);
      expect((e as UserError).context).toMatchObject({ file: join(dir, 'bad.ejs'), role: 'web', host: 'hs1' });
    }
  });
});
