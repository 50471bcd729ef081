// The backup roles from tables: the derived SSH key read back by ssh-keygen, the scripts parsed by
// /bin/sh and their hostile values reaching psql and borg as single words, prune's rules, the
// recap's health line, `mxplay backup`'s reading of the host, and the roles' variable checks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWork } from '../../../src/engine/build.ts';
import { UserErrors } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import type { Change, Resource } from '../../../src/resources/types.ts';
import { deriveSecret } from '../../../src/secrets/secrets.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { backupLine, humanBytes, parseBackupOutput } from '../../../src/cli/backup.ts';
import { restoreInvocation } from '../../../src/cli/restore.ts';
import {
  authorizedKeyLine, backupScript, healthReport, initScript, pgIdent, pruneArguments, repositoryUrl, restoreScript, sshKeyPair, timerUnit,
  type BackupHealth, type BackupSettings,
} from '../../../roles/backup/borg.ts';
import { fakeBin, sh, tempDir, writeTree } from '../helpers.ts';

const MASTER = 'unit-master-secret-0123';
const PWNED = `/tmp/mxp-backup-unit-pwned-${process.pid}`;
const HOSTILE = `syn"apse'; $(touch ${PWNED}) \`id\` \\ é`;
const SETTINGS: BackupSettings = {
  repository: 'ssh://borg@10.0.0.5:22/srv/borg/hs1',
  prefix: 'hs1',
  retention: { daily: 7, weekly: 4, monthly: 6, last: 0 },
  dbName: 'synapse',
  dbOwner: 'synapse',
  mediaStore: '/var/lib/matrix-synapse/media',
  httpPort: 8008,
  pinnedHostKey: false,
};

describe('the SSH key pair derived from a secret', () => {
  it.each([['seed-one-0123456789', 'mxplay-backup@hs1'], ['seed-two-0123456789', 'mxplay-backup@other.host']])('%s: ssh-keygen reads the private key and derives the same public key', (seed, comment) => {
    const k = sshKeyPair(seed, comment);
    expect(k).toEqual(sshKeyPair(seed, comment));
    const file = join(tempDir(), 'id');
    writeFileSync(file, k.privateKey, { mode: 0o600 });
    const r = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(k.publicKey);
    expect(k.publicKey).toMatch(new RegExp(`^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} ${comment.replace('.', '\\.')}$`));
  });

  it('another seed gives another key', () => {
    expect(sshKeyPair('seed-one-0123456789', 'c').publicKey).not.toBe(sshKeyPair('seed-one-012345678X', 'c').publicKey);
  });

  it('the authorized_keys line lets the key run only borg serve in its folder', () => {
    expect(authorizedKeyLine('ssh-ed25519 AAAA c', '/srv/borg/hs1')).toBe('command="borg serve --restrict-to-path /srv/borg/hs1",restrict ssh-ed25519 AAAA c');
  });
});

describe('repository URL, identifiers, prune rules', () => {
  it.each([
    ['borg', '10.0.0.5', 22, '/srv/borg/hs1', 'ssh://borg@10.0.0.5:22/srv/borg/hs1'],
    ['backup', 'backup.example.com', 2222, '/data/r/hs1', 'ssh://backup@backup.example.com:2222/data/r/hs1'],
    ['borg', '2001:db8::5', 22, '/srv/borg/hs1', 'ssh://borg@[2001:db8::5]:22/srv/borg/hs1'],
  ])('%s@%s:%d%s', (u, a, p, path, url) => expect(repositoryUrl(u, a, p, path)).toBe(url));

  it.each([['synapse', '"synapse"'], ['a"b', '"a""b"'], [HOSTILE, `"syn""apse'; $(touch ${PWNED}) \`id\` \\ é"`]])('pgIdent(%j)', (n, want) => expect(pgIdent(n)).toBe(want));

  it.each<[string, BackupSettings['retention'], string]>([
    ['the defaults', { daily: 7, weekly: 4, monthly: 6, last: 0 }, "--glob-archives 'hs1-*' --keep-daily 7 --keep-weekly 4 --keep-monthly 6"],
    ['only the newest 2', { daily: 0, weekly: 0, monthly: 0, last: 2 }, "--glob-archives 'hs1-*' --keep-last 2"],
    ['last and daily', { daily: 1, weekly: 0, monthly: 0, last: 2 }, "--glob-archives 'hs1-*' --keep-last 2 --keep-daily 1"],
  ])('%s', (_n, r, want) => expect(pruneArguments('hs1', r)).toBe(want));

  it('no rule at all is refused (borg would keep nothing)', () => {
    expect(() => pruneArguments('hs1', { daily: 0, weekly: 0, monthly: 0, last: 0 })).toThrow(/at least one/);
  });
});

describe('the scripts', () => {
  const hostile: BackupSettings = { ...SETTINGS, dbName: HOSTILE, dbOwner: `${HOSTILE}-owner`, repository: `ssh://borg@h:22/srv/borg/x'y` };

  it.each([
    ['backup', backupScript(SETTINGS)], ['backup, hostile values', backupScript(hostile)],
    ['restore', restoreScript(SETTINGS)], ['restore, hostile values', restoreScript(hostile)],
    ['init', initScript(SETTINGS, '/var/lib/mxplay-backup/repository-abc')],
  ])('%s: parses with /bin/sh -n', (_n, script) => {
    const r = spawnSync('/bin/sh', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('the passphrase reaches borg only through a root-only file, never in the scripts', () => {
    for (const s of [backupScript(SETTINGS), restoreScript(SETTINGS), initScript(SETTINGS, '/m')]) {
      expect(s).toContain("export BORG_PASSCOMMAND='cat /etc/mxplay-backup/passphrase'");
      expect(s).not.toMatch(/BORG_PASSPHRASE/);
    }
  });

  /** The lines of a script that call `tool`, run with a fake tool printing each argument it got in brackets. */
  function argsOf(script: string, tool: string): string[] {
    const bin = tempDir();
    writeTree(bin, { runuser: `#!/bin/sh\nshift 3\nfor a in "$@"; do printf '[%s]\\n' "$a"; done\n`, borg: `#!/bin/sh\nfor a in "$@"; do printf '[%s]\\n' "$a"; done\n` });
    spawnSync('chmod', ['+x', join(bin, 'runuser'), join(bin, 'borg')]);
    const lines = script.split('\n').filter((l) => new RegExp(`^(runuser -u postgres -- )?${tool} `).test(l)).map((l) => l.replace(/ [<>] .*$/, '').replace(/ \|\| rc=\$\?$/, ''));
    const r = sh(lines.join('\n'), { fakeBin: bin });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n');
  }

  it('hostile database and owner names reach psql as one quoted identifier each, and run nothing', () => {
    const args = argsOf(restoreScript(hostile), 'psql');
    expect(args).toContain(`[DROP DATABASE IF EXISTS "syn""apse'; $(touch ${PWNED}) \`id\` \\ é" WITH (FORCE)]`);
    expect(args).toContain(`[CREATE DATABASE "syn""apse'; $(touch ${PWNED}) \`id\` \\ é" OWNER "syn""apse'; $(touch ${PWNED}) \`id\` \\ é-owner" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0]`);
    const restore = argsOf(restoreScript(hostile), 'pg_restore');
    expect(restore).toContain(`[--role=${HOSTILE}-owner]`);
    expect(restore).toContain(`[${HOSTILE}]`);
    const dump = argsOf(backupScript(hostile), 'pg_dump');
    expect(dump).toEqual(['[pg_dump]', '[-Fc]', '[-d]', `[${HOSTILE}]`]);
    expect(existsSync(PWNED)).toBe(false);
  });

  it('borg create gets the archive name with its time placeholder and the three paths as single words', () => {
    expect(argsOf(backupScript({ ...SETTINGS, mediaStore: '/srv/media store' }), 'borg create')).toEqual([
      '[create]', '[--lock-wait]', '[600]', '[--json]', '[--compression]', '[zstd,3]', '[::hs1-{now:%Y-%m-%dT%H:%M:%S}]',
      '[/var/lib/mxplay-backup/database]', '[/srv/media store]', '[/etc/matrix-synapse]',
    ]);
    expect(argsOf(backupScript(SETTINGS), 'borg prune')).toEqual(['[prune]', '[--lock-wait]', '[600]', '[--glob-archives]', '[hs1-*]', '[--keep-daily]', '[7]', '[--keep-weekly]', '[4]', '[--keep-monthly]', '[6]']);
  });

  it('the timer: its calendar, no extra delay beyond the configured one, missed runs caught up', () => {
    const t = timerUnit('*-*-* 03:30:00', 600);
    for (const l of ['OnCalendar=*-*-* 03:30:00', 'RandomizedDelaySec=600', 'AccuracySec=1s', 'Persistent=true', 'WantedBy=timers.target']) expect(t.split('\n')).toContain(l);
  });
});

describe('the backup script, run with stand-ins for PostgreSQL and borg', () => {
  /**
   * The script as the role writes it, its folders moved into a temp dir; runuser runs the command
   * it is given (pg_dump and friends print a line), borg records its calls and fails at the step
   * named in FAIL_AT with the status in FAIL_RC.
   */
  function runBackup(failAt = '', failRc = 2) {
    const root = tempDir();
    mkdirSync(join(root, 'state'));
    const script = backupScript(SETTINGS).replaceAll('/var/lib/mxplay-backup', `${root}/state`).replaceAll('/run/lock/mxplay-backup', `${root}/lock`);
    const bin = fakeBin({
      runuser: 'shift 3; "$@"',
      pg_dump: 'echo dump',
      psql: 'echo name=synapse',
      pg_dumpall: 'echo roles',
      borg: [
        `echo "$*" >> ${root}/borg.log`,
        // A warning (exit 1) still makes the archive and prints its report.
        'if [ "$1" = create ] && [ "$FAIL_AT$FAIL_RC" != create2 ]; then echo \'{"archive": {"name": "hs1-2026-12-01T03:30:00", "duration": 1.5, "stats": {"original_size": 10, "deduplicated_size": 5, "nfiles": 3}}}\'; fi',
        '[ "$1" = "$FAIL_AT" ] && { echo "borg $1 failed" >&2; exit "$FAIL_RC"; }',
        'exit 0',
      ].join('\n'),
    });
    const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAIL_AT: failAt, FAIL_RC: String(failRc) } });
    const read = (f: string) => (existsSync(join(root, 'state', f)) ? readFileSync(join(root, 'state', f), 'utf8') : undefined);
    return { code: r.status, stderr: r.stderr, borg: readFileSync(join(root, 'borg.log'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]), read, dumpLeft: existsSync(join(root, 'state', 'database')) };
  }

  it('a backup that works: create, prune, compact; the archive name kept, no failure recorded, the dump removed', () => {
    const r = runBackup();
    expect(r.code, r.stderr).toBe(0);
    expect(r.borg).toEqual(['create', 'prune', 'compact']);
    expect(r.read('last-success')).toBe('hs1-2026-12-01T03:30:00\n');
    expect(JSON.parse(r.read('last-create.json')!).archive.name).toBe('hs1-2026-12-01T03:30:00');
    expect(r.read('last-failure')).toBeUndefined();
    expect(r.dumpLeft).toBe(false);
  });

  it.each<[string, number, number, string[], string | undefined]>([
    ['create', 2, 2, ['create'], 'borg create (exit 2)\n'],
    // borg's warning (a file changed while read): the archive is made, the backup goes on.
    ['create', 1, 0, ['create', 'prune', 'compact'], undefined],
    ['prune', 2, 2, ['create', 'prune'], 'borg prune (exit 2)\n'],
    ['compact', 2, 2, ['create', 'prune', 'compact'], 'borg compact (exit 2)\n'],
  ])('borg %s exits %d: the script exits %d, after %j; failure recorded: %j', (at, rc, code, calls, failure) => {
    const r = runBackup(at, rc);
    expect(r.code, r.stderr).toBe(code);
    expect(r.borg).toEqual(calls);
    expect(r.read('last-failure')).toBe(failure);
    if (failure) {
      expect(r.stderr).toContain(`backup failed at ${failure.trim()}`);
      expect(r.read('last-success')).toBeUndefined();
    }
  });
});

describe('backup health in the recap', () => {
  const NOW = Date.UTC(2026, 11, 1, 12, 0, 0) / 1000;
  const base: BackupHealth = { active: 'inactive', result: 'success', success: 0, archive: '', failure: 0, failedStep: '' };
  it.each<[string, Partial<BackupHealth>, 'ok' | 'warn' | 'fail', string]>([
    ['never run', {}, 'warn', 'backup: no successful backup yet (the timer runs it; mxplay backup runs one now)'],
    ['a success 2 h ago', { success: NOW - 7200, archive: 'hs1-2026-12-01T10:00:00' }, 'ok', 'backup: last successful backup 2026-12-01 10:00 UTC (2 h ago), archive hs1-2026-12-01T10:00:00'],
    ['a success 3 days ago', { success: NOW - 3 * 86400, archive: 'a' }, 'warn', 'backup: last successful backup 2026-11-28 12:00 UTC (3 days ago), archive a'],
    ['the unit failed after a success', { active: 'failed', result: 'exit-code', success: NOW - 7200, archive: 'a', failure: NOW - 60, failedStep: 'borg create (exit 2)' }, 'fail',
      'backup FAILED 2026-12-01 11:59 UTC at borg create (exit 2); last successful backup 2026-12-01 10:00 UTC (2 h ago), archive a; see journalctl -u mxplay-backup.service'],
    ['failed, then reset-failed: the failure is still newer than the success', { failure: NOW - 60, failedStep: 'pg_dump (exit 1)', success: NOW - 7200, archive: 'a' }, 'fail',
      'backup FAILED 2026-12-01 11:59 UTC at pg_dump (exit 1); last successful backup 2026-12-01 10:00 UTC (2 h ago), archive a; see journalctl -u mxplay-backup.service'],
    ['failed without our record (killed): systemd says why', { active: 'failed', result: 'signal' }, 'fail', 'backup FAILED (signal); no successful backup yet; see journalctl -u mxplay-backup.service'],
    ['an old failure, then a success', { failure: NOW - 7200, failedStep: 'x', success: NOW - 60, archive: 'b' }, 'ok', 'backup: last successful backup 2026-12-01 11:59 UTC (60 s ago), archive b'],
  ])('%s', (_n, h, level, text) => expect(healthReport({ ...base, ...h }, NOW)).toEqual({ level, text }));
});

describe('mxplay backup: what the host said', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const create = JSON.stringify({ archive: { name: 'hs1-2026-12-01T05:00:00', duration: 2.5, stats: { original_size: 3 * 1024 * 1024, deduplicated_size: 2048, nfiles: 12 } } });
  it.each<[string, string, number, ReturnType<typeof parseBackupOutput>]>([
    ['made', `0\n${b64(create)}\n\n`, 0, { ok: true, archive: 'hs1-2026-12-01T05:00:00', originalSize: 3145728, deduplicatedSize: 2048, files: 12, borgSeconds: 2.5 }],
    ['the unit failed: its log, whatever it holds', `1\n\n${b64('backup failed at borg create (exit 2)\n0\nnot a field')}\n`, 0, { ok: false, error: 'mxplay-backup.service failed (systemctl exit 1):\nbackup failed at borg create (exit 2)\n0\nnot a field' }],
    ['the script did not run', '', 127, { ok: false, error: 'the backup could not be started (exit 127)' }],
    ['a success without a readable result', `0\n${b64('{')}\n\n`, 0, { ok: false, error: 'mxplay-backup.service succeeded but /var/lib/mxplay-backup/last-create.json could not be read' }],
  ])('%s', (_n, out, code, want) => expect(parseBackupOutput(out, code)).toEqual(want));

  it.each([[0, '0 B'], [1023, '1023 B'], [1536, '1.5 KiB'], [3 * 1024 * 1024, '3.0 MiB']])('humanBytes(%d)', (n, s) => expect(humanBytes(n)).toBe(s));

  it('the report line: archive, size, what was new, duration', () => {
    expect(backupLine('hs1', parseBackupOutput(`0\n${b64(create)}\n\n`, 0), 6.34, 5)).toBe('hs1    archive hs1-2026-12-01T05:00:00  3.0 MiB (2.0 KiB new after deduplication, 12 files)  6.3s (borg create 2.5s)');
  });

  it.each([['hs1-2026-12-01T05:00:00', '/usr/local/sbin/mxplay-restore hs1-2026-12-01T05:00:00 2>&1'], [undefined, '/usr/local/sbin/mxplay-restore 2>&1']])('restore %s', (a, want) => {
    expect(restoreInvocation(a)).toBe(want);
  });

  // Not names borg gives: a shell or an option would read them.
  it.each(['x; rm -rf /', "a'b", '$(id)', '-a', ''])('restore --archive %j is refused', (a) => {
    expect(() => restoreInvocation(a)).toThrow(/not an archive name/);
  });
});

describe('backup and backup_repository roles: built per host', () => {
  async function build(vars: string, play = '- hosts: repo\n  roles: [backup_repository]\n- hosts: hs1\n  roles: [backup]\n') {
    const cwd = writeTree(tempDir(), {
      'site.yml': play,
      'inventory/hosts.yml': `all:\n  vars: { mxplay_master_secret: ${MASTER} }\n  hosts:\n    repo: { ansible_host: 10.0.0.5 }\n    hs1:\n${vars.replace(/^/gm, '      ')}\n`,
    });
    const secrets = new SecretRegistry();
    try {
      return { works: await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets }), secrets };
    } catch (e) {
      if (e instanceof UserErrors) return { errors: e.errors.map((x) => x.toString()), secrets };
      throw e;
    }
  }
  const itemsOf = (r: Awaited<ReturnType<typeof build>>, host: string): Resource[] => r.works!.find((w) => w.host.name === host)!.plays.flatMap((p) => p.items.map((i) => i.resource));
  const created = (r: Resource) => r.plan({ kind: 'none' }) as Change;

  it('the homeserver host: its files, secrets hidden, the repository made once, the timer, the health report; the repository host: only its key, only borg serve', async () => {
    const r = await build('backup_repository_host: repo');
    expect(r.errors).toBeUndefined();
    const hs = itemsOf(r, 'hs1');
    expect(hs.map((x) => `${x.type} ${x.id}`)).toEqual([
      'apt borgbackup,openssh-client', 'directory /etc/mxplay-backup', 'file /etc/mxplay-backup/passphrase', 'file /etc/mxplay-backup/id_ed25519',
      'file /etc/mxplay-backup/id_ed25519.pub', 'directory /var/lib/mxplay-backup', 'file /usr/local/sbin/mxplay-backup', 'file /usr/local/sbin/mxplay-restore',
      'file /etc/systemd/system/mxplay-backup.service', 'file /etc/systemd/system/mxplay-backup.timer',
      'command init the borg repository ssh://borg@10.0.0.5:22/srv/borg/hs1', 'service mxplay-backup.timer', 'backup_health mxplay-backup.service',
    ]);
    const passphrase = deriveSecret(MASTER, 'hs1:backup_passphrase');
    const pass = created(hs.find((x) => x.id === '/etc/mxplay-backup/passphrase')!);
    expect(pass.summary).toBe('create (0600 root:root)');
    expect(pass.diff!.hidden).toBe(true);
    expect(r.secrets.mask(`x ${passphrase} y`)).toBe('x ******** y');
    expect(created(hs.find((x) => x.id === '/etc/mxplay-backup/id_ed25519')!).diff!.hidden).toBe(true);
    // The repository host authorizes exactly the key the homeserver host gets.
    const pub = created(hs.find((x) => x.id === '/etc/mxplay-backup/id_ed25519.pub')!).diff!.after!.trim();
    const keys = created(itemsOf(r, 'repo').find((x) => x.id === '/srv/borg/.ssh/authorized_keys')!).diff!.after!;
    expect(keys.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([`command="borg serve --restrict-to-path /srv/borg/hs1",restrict ${pub}`]);
    expect(itemsOf(r, 'repo').map((x) => `${x.type} ${x.id}`)).toContain('directory /srv/borg/hs1');
    // Nothing to converge in the health report, whatever it reads.
    const health = hs.find((x) => x.type === 'backup_health')!;
    expect(health.plan({ active: 'failed' })).toBeNull();
    expect(health.report!({ active: 'failed', result: 'exit-code', success: 0, archive: '', failure: 1, failedStep: 'pg_dump (exit 1)' })!.level).toBe('fail');
  });

  it('a pinned host key is written for the address and makes ssh refuse any other', async () => {
    const r = await build('backup_repository_host: repo\nbackup_repository_port: 2222\nbackup_repository_host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2jWmOW8s');
    expect(r.errors).toBeUndefined();
    const hs = itemsOf(r, 'hs1');
    expect(created(hs.find((x) => x.id === '/etc/mxplay-backup/known_hosts')!).diff!.after).toBe('[10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2jWmOW8s\n');
    expect(created(hs.find((x) => x.id === '/usr/local/sbin/mxplay-backup')!).diff!.after).toContain('StrictHostKeyChecking=yes');
  });

  it.each([
    ['no repository host', '{}', 'backup_repository_host', /required|expected string/i],
    ['a repository host not in the inventory', 'backup_repository_host: nowhere', 'backup_repository_host', /'nowhere' is not a host of the inventory/],
    ['every retention count 0', 'backup_repository_host: repo\nbackup_keep_daily: 0\nbackup_keep_weekly: 0\nbackup_keep_monthly: 0', 'backup_keep_daily', /borg prune would keep nothing/],
    ['a passphrase with a line break', 'backup_repository_host: repo\nbackup_passphrase: "one line\\nanother"', 'backup_passphrase', /no line breaks/],
    ['a calendar with a line break', 'backup_repository_host: repo\nbackup_on_calendar: "daily\\nExecStart=/bin/x"', 'backup_on_calendar', /systemd calendar expression/],
    ['a calendar with a shell character', "backup_repository_host: repo\nbackup_on_calendar: 'daily; rm'", 'backup_on_calendar', /systemd calendar expression/],
    ['an archive prefix with a slash', 'backup_repository_host: repo\nbackup_archive_prefix: a/b', 'backup_archive_prefix', /letters, digits/],
    ['a database on another host', 'backup_repository_host: repo\nsynapse_db_host: db.example.com', 'synapse_db_host', /through this host's PostgreSQL/],
    ['a media path with a quote', "backup_repository_host: repo\nsynapse_media_store_path: \"/srv/it's\"", 'synapse_media_store_path', /absolute path/],
    ['a host key with a comment or option', 'backup_repository_host: repo\nbackup_repository_host_key: "ssh-ed25519 AAAA x\\n@revoked"', 'backup_repository_host_key', /public host key/],
  ])('%s: the error names host, role and key', async (_n, vars, key, msg) => {
    const r = await build(vars);
    expect(r.errors, JSON.stringify(r.works?.length)).toBeDefined();
    const mine = r.errors!.filter((e) => e.includes(`key ${key}`));
    expect(mine, r.errors!.join('\n')).toHaveLength(1);
    expect(mine[0]).toMatch(/host hs1, role backup/);
    expect(mine[0]).toMatch(msg);
  });

  it('a repository at another address, user and path; a given passphrase and archive prefix: both hosts agree', async () => {
    const repoVars = 'vars: { backup_repository_user: borgu, backup_repository_path: /data/borg }';
    const r = await build(
      'backup_repository_host: repo\nbackup_repository_address: backup.example.net\nbackup_passphrase: given-passphrase-1\nbackup_archive_prefix: nightly',
      `- hosts: repo\n  roles: [backup_repository]\n  ${repoVars}\n- hosts: hs1\n  roles: [backup]\n  ${repoVars}\n`,
    );
    expect(r.errors).toBeUndefined();
    const hs = itemsOf(r, 'hs1');
    expect(hs.map((x) => x.id)).toContain('init the borg repository ssh://borgu@backup.example.net:22/data/borg/hs1');
    expect(created(hs.find((x) => x.id === '/etc/mxplay-backup/passphrase')!).diff!.hidden).toBe(true);
    expect(r.secrets.mask('x given-passphrase-1 y')).toBe('x ******** y');
    expect(created(hs.find((x) => x.id === '/usr/local/sbin/mxplay-backup')!).diff!.after).toContain('nightly-');
    const repo = itemsOf(r, 'repo');
    expect(repo.filter((x) => x.type === 'directory').map((x) => x.id)).toEqual(['/data/borg', '/data/borg/.ssh', '/data/borg/hs1']);
    expect(repo.find((x) => x.type === 'user')?.id).toBe('borgu');
    expect(created(repo.find((x) => x.id === '/data/borg/.ssh/authorized_keys')!).diff!.after).toContain('borg serve --restrict-to-path /data/borg/hs1');
  });

  it('the repository host: clients listed, or found by their backup_repository_host; a client not in the inventory is refused', async () => {
    const found = await build('backup_repository_host: repo');
    expect(itemsOf(found, 'repo').filter((x) => x.type === 'directory').map((x) => x.id)).toEqual(['/srv/borg', '/srv/borg/.ssh', '/srv/borg/hs1']);
    const wrong = await build('backup_repository_host: repo', '- hosts: repo\n  roles: [backup_repository]\n  vars: { backup_repository_clients: [hs1, ghost] }\n');
    expect(wrong.errors!.join('\n')).toMatch(/host repo, role backup_repository, key backup_repository_clients: .*'ghost' is not a host of the inventory/);
  });
});
