import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changedOf, mxplay } from './helpers/mxplay.ts';
import { startLoopbackSshd, type LoopbackSshd } from './helpers/sshd.ts';

// A real OpenSSH server on loopback, reached through mxplay's own SSH transport (node-ssh).
describe('a playbook over real SSH to a loopback sshd', () => {
  let sshd: LoopbackSshd;
  let project: string;
  let target: string;

  const writeInventory = (vars: Record<string, string | number> = {}) =>
    writeFileSync(
      join(project, 'inventory', 'loop.yml'),
      [
        'all:',
        '  hosts:',
        '    loop:',
        '      ansible_host: 127.0.0.1',
        `      ansible_port: ${sshd.port}`,
        '      ansible_user: root',
        `      ansible_ssh_private_key_file: ${sshd.keyFile}`,
        `      mxplay_known_hosts_file: ${vars.known ?? sshd.knownHostsFile}`,
        ...(vars.checking ? [`      mxplay_host_key_checking: ${vars.checking}`] : []),
        '',
      ].join('\n'),
    );

  beforeAll(async () => {
    sshd = await startLoopbackSshd(22000 + Math.floor(Math.random() * 2000));
    project = mkdtempSync(join(tmpdir(), 'mxplay-proj-'));
    target = join(project, 'target');
    mkdirSync(join(project, 'inventory'));
    writeInventory();
    writeFileSync(
      join(project, 'site.yml'),
      [
        '- hosts: all',
        '  tasks:',
        `    - directory: {path: ${target}, mode: "0750"}`,
        `    - file: {path: ${target}/app.conf, content: "port = 8008\\nworkers = 2\\n", mode: "0640", notify: reload app}`,
        `    - link: {path: ${target}/current, target: app.conf}`,
        '  handlers:',
        '    - name: reload app',
        `      command: {cmd: "date >> ${target}/reloads"}`,
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await sshd?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('converges on the first run, runs the handler once, and reports 0 changed on the second', async () => {
    const first = await mxplay(['run', 'site.yml', '-i', 'loop', '--yes', '--json'], { cwd: project });
    expect(first.code, first.stderr).toBe(0);
    expect(changedOf(first, 'loop')).toBe(3);
    expect(readFileSync(join(target, 'app.conf'), 'utf8')).toBe('port = 8008\nworkers = 2\n');
    expect(readFileSync(join(target, 'reloads'), 'utf8').trim().split('\n')).toHaveLength(1);

    const second = await mxplay(['run', 'site.yml', '-i', 'loop', '--yes', '--json'], { cwd: project });
    expect(second.code, second.stderr).toBe(0);
    expect(changedOf(second, 'loop')).toBe(0);
    expect(second.json!.hosts[0]!.changes).toEqual([]);
    // A no-op run is one probing round trip on the connection.
    expect(second.json!.results[0]!.roundTrips).toBe(1);
    expect(readFileSync(join(target, 'reloads'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('--check shows exactly the drifted file as a diff and changes nothing', async () => {
    writeFileSync(join(target, 'app.conf'), 'port = 9999\nworkers = 2\n');
    const check = await mxplay(['run', 'site.yml', '-i', 'loop', '--check', '--detailed-exitcode'], { cwd: project });
    expect(check.code, check.stderr).toBe(2);
    expect(check.stdout).toContain(`~ file ${target}/app.conf`);
    expect(check.stdout).toContain('-port = 9999');
    expect(check.stdout).toContain('+port = 8008');
    expect(check.stdout).toMatch(/Plan: 1 change on 1 host/);
    expect(readFileSync(join(target, 'app.conf'), 'utf8')).toBe('port = 9999\nworkers = 2\n');
    expect(readFileSync(join(target, 'reloads'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('refuses to apply without a terminal unless --yes is given', async () => {
    const r = await mxplay(['run', 'site.yml', '-i', 'loop'], { cwd: project });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--yes');
    expect(readFileSync(join(target, 'app.conf'), 'utf8')).toBe('port = 9999\nworkers = 2\n');
  });

  it('refuses a host whose key is not the known one, and an unknown one unless accept-new', async () => {
    const wrong = join(project, 'wrong_known_hosts');
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    writeInventory({ known: wrong });
    const mismatch = await mxplay(['run', 'site.yml', '-i', 'loop', '--check'], { cwd: project });
    expect(mismatch.code).toBe(1);
    expect(mismatch.stdout).toMatch(/HOST KEY MISMATCH/);

    const fresh = join(project, 'fresh_known_hosts');
    writeInventory({ known: fresh });
    const unknown = await mxplay(['run', 'site.yml', '-i', 'loop', '--check'], { cwd: project });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/unknown host key/);
    expect(existsSync(fresh)).toBe(false);

    writeInventory({ known: fresh, checking: 'accept-new' });
    const accepted = await mxplay(['run', 'site.yml', '-i', 'loop', '--check'], { cwd: project });
    expect(accepted.code, accepted.stdout).not.toBe(1);
    expect(readFileSync(fresh, 'utf8')).toContain(sshd.hostPublicKey.split(' ')[1]);
    writeInventory();
  });

  it('converges the drifted file back and reloads once', async () => {
    const r = await mxplay(['run', 'site.yml', '-i', 'loop', '--yes', '--json'], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    expect(changedOf(r, 'loop')).toBe(1);
    expect(readFileSync(join(target, 'app.conf'), 'utf8')).toBe('port = 8008\nworkers = 2\n');
    expect(readFileSync(join(target, 'reloads'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
