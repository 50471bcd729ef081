import { describe, expect, it } from 'vitest';
import { file, planFile, sha256, type FileOptions, type FileState } from '../../../src/resources/file.ts';
import type { Change } from '../../../src/resources/types.ts';
import { expectPlan, heredocPayload, type Expected } from '../helpers.ts';

const P = '/etc/app/app.conf';
const NEW = 'listen 8080\n';
const OLD = 'listen 80\n';
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** A regular file as the probe reports it; content is only sent when it differs from the wanted one. */
const existing = (content: string, extra: Partial<FileState> = {}): FileState => ({
  kind: 'file',
  mode: '644',
  owner: 'root',
  group: 'root',
  sha: sha256(content),
  content: content === NEW ? '' : b64(content),
  ...extra,
});

describe('planFile', () => {
  const rows: { name: string; o: Partial<FileOptions>; s: FileState; want: Expected }[] = [
    {
      name: 'missing file is created with default mode and owner',
      o: {},
      s: { kind: 'none' },
      want: { action: '+', summary: 'create (0644 root:root)', has: [`mxp_put ${P} 0644 root root <<'MXP_EOF'`] },
    },
    {
      name: 'missing file is created with the given mode and owner',
      o: { mode: 0o640, owner: 'www-data', group: 'adm' },
      s: { kind: 'none' },
      want: { action: '+', summary: 'create (0640 www-data:adm)', has: [`mxp_put ${P} 0640 www-data adm`] },
    },
    {
      name: 'same content, mode and owner: no-op',
      o: {},
      s: existing(NEW),
      want: null,
    },
    {
      name: 'same content and explicit mode/owner that match: no-op',
      o: { mode: 0o600, owner: 'synapse', group: 'synapse' },
      s: existing(NEW, { mode: '600', owner: 'synapse', group: 'synapse' }),
      want: null,
    },
    {
      name: 'content differs: the file is uploaded again',
      o: {},
      s: existing(OLD),
      want: { action: '~', summary: 'content', has: ['mxp_put', 'MXP_EOF'] },
    },
    {
      name: 'only the mode differs: chmod, no upload',
      o: { mode: 0o600 },
      s: existing(NEW),
      want: { action: '~', summary: 'mode 0644 → 0600', has: [`chmod 0600 ${P}`, `chown root:root ${P}`], lacks: ['mxp_put', 'MXP_EOF'] },
    },
    {
      name: 'only the owner differs: chown, no upload',
      o: { owner: 'synapse' },
      s: existing(NEW),
      want: { action: '~', summary: 'owner root:root → synapse:root', has: [`chown synapse:root ${P}`], lacks: ['mxp_put', 'MXP_EOF'] },
    },
    {
      name: 'only the group differs: chown, no upload',
      o: { group: 'adm' },
      s: existing(NEW),
      want: { action: '~', summary: 'owner root:root → root:adm', has: [`chown root:adm ${P}`], lacks: ['mxp_put'] },
    },
    {
      name: 'content and mode differ: one upload carries both',
      o: { mode: 0o600 },
      s: existing(OLD),
      want: { action: '~', summary: 'content, mode 0644 → 0600', has: [`mxp_put ${P} 0600 root root`], lacks: ['chmod'] },
    },
    {
      name: 'a setuid mode from stat (4 digits) is compared numerically',
      o: { mode: 0o4755 },
      s: existing(NEW, { mode: '4755' }),
      want: null,
    },
    {
      name: 'a symlink in the way is replaced by the file',
      o: {},
      s: { kind: 'link' },
      want: { action: '+', summary: 'replace symlink with file', has: ['mxp_put'] },
    },
    {
      name: 'a directory in the way cannot be planned',
      o: {},
      s: { kind: 'dir' },
      want: { unresolved: `${P} exists and is not a regular file` },
    },
    {
      name: 'something else (socket, fifo) in the way cannot be planned',
      o: {},
      s: { kind: 'other' },
      want: { unresolved: /not a regular file/ },
    },
    {
      name: 'owner that does not exist yet: unresolved (a user resource may create it)',
      o: { owner: 'synapse' },
      s: { kind: 'none', ownerMissing: true },
      want: { unresolved: 'user synapse does not exist yet' },
    },
    {
      name: 'group that does not exist yet: unresolved',
      o: { group: 'matrix' },
      s: { kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256(NEW), groupMissing: true },
      want: { unresolved: 'group matrix does not exist yet' },
    },
    {
      name: 'absent, and there is nothing: no-op',
      o: { state: 'absent' },
      s: { kind: 'none' },
      want: null,
    },
    {
      name: 'absent removes the file, backing it up first',
      o: { state: 'absent' },
      s: existing(OLD),
      want: { action: '-', summary: 'remove', has: [`mxp_backup ${P}`, `rm -f ${P}`] },
    },
    {
      name: 'absent removes a symlink too',
      o: { state: 'absent' },
      s: { kind: 'link' },
      want: { action: '-', summary: 'remove', has: [`rm -f ${P}`] },
    },
    {
      name: 'absent refuses to remove a directory',
      o: { state: 'absent' },
      s: { kind: 'dir' },
      want: { unresolved: /is a directory/ },
    },
    {
      name: 'absent does not care about a missing owner',
      o: { state: 'absent', owner: 'gone' },
      s: { kind: 'none', ownerMissing: true },
      want: null,
    },
    {
      name: 'onChange runs after an upload',
      o: { onChange: 'touch /run/stale' },
      s: existing(OLD),
      want: { action: '~', summary: 'content', has: ['mxp_put', 'MXP_EOF\ntouch /run/stale'] },
    },
    {
      name: 'onChange runs after a mode fix',
      o: { mode: 0o600, onChange: 'touch /run/stale' },
      s: existing(NEW),
      want: { action: '~', summary: /^mode/, has: ['chmod 0600', 'touch /run/stale'] },
    },
    {
      name: 'onChange runs after a removal',
      o: { state: 'absent', onChange: 'touch /run/stale' },
      s: existing(OLD),
      want: { action: '-', summary: 'remove', has: ['rm -f', 'touch /run/stale'] },
    },
    {
      name: 'paths with spaces and quotes are shell-quoted',
      o: { path: "/srv/it's here/x.conf" },
      s: { kind: 'none' },
      want: { action: '+', summary: /^create/, has: [`mxp_put '/srv/it'\\''s here/x.conf' 0644`] },
    },
  ];

  it.each(rows)('$name', ({ o, s, want }) => {
    expectPlan(planFile({ path: P, content: NEW, ...o }, s), want);
  });

  it('uploads exactly the wanted bytes, for text and binary content', () => {
    for (const content of [NEW, 'a'.repeat(500) + '\n', Buffer.from([0, 1, 2, 255, 10])]) {
      const c = planFile({ path: P, content }, { kind: 'none' }) as Change;
      const m = /<<'MXP_EOF'\n([\s\S]*?)MXP_EOF/.exec(c.script)!;
      expect(Buffer.from(m[1]!.replace(/\n/g, ''), 'base64').equals(Buffer.from(content))).toBe(true);
      // base64 lines stay short: no line of the heredoc is longer than 76 characters
      expect(Math.max(...m[1]!.split('\n').map((l) => l.length))).toBeLessThanOrEqual(76);
    }
  });

  it('a content that looks like the heredoc end marker cannot end the heredoc early', () => {
    const c = planFile({ path: P, content: "MXP_EOF\nrm -rf /\n" }, { kind: 'none' }) as Change;
    expect(heredocPayload(c.script)).toBe("MXP_EOF\nrm -rf /\n");
  });

  it('no content means an empty file', () => {
    expect(planFile({ path: P }, { kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256('') })).toBeNull();
  });

  describe('diffs', () => {
    const diffOf = (o: Partial<FileOptions>, s: FileState) => (planFile({ path: P, content: NEW, ...o }, s) as Change).diff;

    it('content change: before is the probed content, after the new one', () => {
      expect(diffOf({}, existing(OLD))).toEqual({ path: P, before: OLD, after: NEW });
    });

    it('creation: before is null (no file)', () => {
      expect(diffOf({}, { kind: 'none' })).toEqual({ path: P, before: null, after: NEW });
    });

    it('removal: after is null', () => {
      expect(diffOf({ state: 'absent' }, existing(OLD))).toEqual({ path: P, before: OLD, after: null });
    });

    const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
    it.each([
      ['a task marked sensitive', { sensitive: true }, existing(OLD), NEW],
      ['a PEM private key being written', {}, { kind: 'none' } as FileState, KEY],
      ['an OpenSSH private key being replaced by other content', {}, existing('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n'), NEW],
      ['an encrypted RSA key', {}, { kind: 'none' } as FileState, '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n'],
    ])('%s: shown only as changing (hidden)', (_n, o, s, content) => {
      expect((planFile({ path: P, content, ...o }, s) as Change).diff).toMatchObject({ hidden: true });
    });

    it('a certificate (public) is shown', () => {
      expect(diffOf({ content: '-----BEGIN CERTIFICATE-----\nMIIB\n' }, { kind: 'none' })).not.toHaveProperty('hidden');
    });

    it('mode or owner only: no diff', () => {
      expect(diffOf({ mode: 0o600 }, existing(NEW))).toBeUndefined();
    });

    it('an existing empty file diffs from "", not from a missing file', () => {
      expect(diffOf({}, { kind: 'file', mode: '644', owner: 'root', group: 'root', sha: sha256(''), content: '' })).toEqual({
        path: P,
        before: '',
        after: NEW,
      });
    });

    it('a binary or too large old content is not shown (before null)', () => {
      expect(diffOf({}, existing(OLD, { content: b64(Buffer.from([1, 0, 2])) }))?.before).toBeNull();
      expect(diffOf({}, existing('x'.repeat(300000), { content: '' }))?.before).toBeNull();
    });

    it.each([
      ['content change', {}, existing(OLD)],
      ['creation', {}, { kind: 'none' } as FileState],
      ['removal', { state: 'absent' as const }, existing(OLD)],
    ])('sensitive file, %s: the diff is marked hidden', (_n, o, s) => {
      expect(diffOf({ ...o, sensitive: true }, s)?.hidden).toBe(true);
    });

    it('a non-sensitive diff is not hidden', () => {
      expect(diffOf({}, existing(OLD))?.hidden).toBeUndefined();
    });
  });
});

describe('file()', () => {
  it('is a resource named by its path, writing that path, with notify/tags/validate normalised', () => {
    const r = file({ path: P, content: NEW, notify: 'restart app', tags: ['cfg'], validate: 'app --check' });
    expect(r).toMatchObject({ type: 'file', id: P, writes: [P], notify: ['restart app'], tags: ['cfg'], validate: 'app --check' });
    expect(file({ path: P }).notify).toEqual([]);
    expect(file({ path: P }).validate).toBeUndefined();
    expect(file({ path: P, kind: 'template' }).type).toBe('template');
  });

  it('probe compares against the sha of the wanted content and checks owner/group only when given', () => {
    const r = file({ path: P, content: NEW, owner: 'synapse' });
    expect(r.probe).toMatchObject({ facts: { paths: [{ path: P, sha: sha256(NEW) }], owners: ['synapse'], groups: [] } });
  });
});
