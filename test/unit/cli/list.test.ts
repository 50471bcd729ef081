import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** A project whose hosts cannot be reached: anything that tried to connect would fail. */
function project(): string {
  return writeTree(tempDir(), {
    'hosts.yml': 'all:\n  children:\n    web:\n      hosts:\n        w1: { ansible_host: 192.0.2.1 }\n        w2: { ansible_host: 192.0.2.2 }\n    db:\n      hosts:\n        d1: { ansible_host: 192.0.2.3 }\n',
    'site.yml': [
      '- name: web servers',
      '  hosts: web',
      '  tasks:',
      '    - name: greeting',
      '      file: { path: /etc/motd, content: "hello {{ inventory_hostname }}\\n", tags: [motd] }',
      '    - name: site folder',
      '      directory: { path: /srv/www }',
      '- name: databases',
      '  hosts: db',
      '  tasks:',
      '    - name: data folder',
      '      directory: { path: /srv/db }',
      '',
    ].join('\n'),
  });
}

async function mxplay(dir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  try {
    return { code: await main(['run', join(dir, 'site.yml'), '-i', join(dir, 'hosts.yml'), ...args]), out };
  } finally {
    spy.mockRestore();
  }
}

describe("ansible-playbook's listing flags, without any connection", () => {
  it('--list-hosts: each play with its hosts, --limit applied', async () => {
    const dir = project();
    const { code, out } = await mxplay(dir, '--list-hosts');
    expect(code).toBe(0);
    expect(out).toMatch(/play #1 \(web\): web servers\n {4}hosts \(2\):\n {6}w1\n {6}w2\n/);
    expect(out).toMatch(/play #2 \(db\): databases\n {4}hosts \(1\):\n {6}d1/);
    expect((await mxplay(dir, '--list-hosts', '-l', 'w2')).out).toMatch(/hosts \(1\):\n {6}w2\n(.|\n)*hosts \(0\):/);
  });

  it('--list-tasks: the resources each host gets, --tags applied', async () => {
    const dir = project();
    const { out } = await mxplay(dir, '--list-tasks');
    expect(out).toMatch(/ {2}w1:\n {4}play #1 \(web\): web servers: 2 resource\(s\)\n {6}\[tasks\] file \/etc\/motd {2}TAGS: motd\n {6}\[tasks\] directory \/srv\/www\n/);
    expect(out).toMatch(/ {2}d1:\n(.|\n)*\[tasks\] directory \/srv\/db/);
    const tagged = (await mxplay(dir, '--list-tasks', '-t', 'motd')).out;
    expect(tagged).toContain('file /etc/motd');
    expect(tagged).not.toContain('/srv/www');
  });

  it('--syntax-check: counts what it built; a bad input is the error run would give', async () => {
    const dir = project();
    expect((await mxplay(dir, '--syntax-check')).out).toMatch(/syntax ok: 2 play\(s\), 3 host\(s\), 5 resource\(s\); nothing was contacted/);
    writeTree(dir, { 'site.yml': '- hosts: web\n  tasks:\n    - name: bad\n      directory: { path: /srv, mode: 0999 }\n' });
    await expect(mxplay(dir, '--syntax-check')).rejects.toThrow(/a file mode as an octal string/);
  });
});
