import { describe, expect, it } from 'vitest';
import type { PlanHost, PlanInputs } from '../../../src/plan-file/format.ts';
import { makePlanFile } from '../../../src/plan-file/make.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { mdCode, mdFence, mdText, renderPlanMarkdown } from '../../../src/ui/plan-markdown.ts';
import { renderPlanFileText } from '../../../src/ui/plan-text.ts';

/** One registry for the file, as one run has one. */
const reg = new SecretRegistry();

const SECRET = 'render-test-secret-8d2f';
reg.add(SECRET);

const inputs: PlanInputs = {
  playbook: 'site.yml',
  inventory: 'prod',
  limit: 'matrix',
  extraVars: ['synapse_max_upload_size=100M', { key: 'synapse_registration_shared_secret', secret: true }],
  files: [],
  secrets: 'f'.repeat(64),
};
const planned = (host: string, o: Partial<PlanHost> = {}): PlanHost => ({ host, status: 'planned', pendingHandlers: [], changes: [], resources: [], ...o });
const created = new Date('2025-03-01T10:00:00Z');

const hs1 = planned('hs1', {
  changes: [
    { action: '+', type: 'apt', id: 'nginx', role: 'nginx', summary: 'install nginx' },
    {
      action: '~', type: 'template', id: '/etc/app.conf', role: 'app', summary: 'content',
      diff: `--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1,2 +1,2 @@\n-port = 80\n+port = 8080\n token = ${SECRET}`,
    },
    { action: '+', type: 'file', id: '/etc/app.key', role: 'app', summary: 'create (0600 root:root)', secret: true, content: 'a'.repeat(64) },
    { action: '?', type: 'service', id: 'nginx', role: 'nginx', summary: 'unit nginx not found; known after apt nginx' },
  ],
  pendingHandlers: ['reload nginx'],
});

describe('renderPlanMarkdown', () => {
  const rows: { name: string; hosts: PlanHost[]; has: (string | RegExp)[]; lacks?: (string | RegExp)[] }[] = [
    {
      name: 'a heading with the totals, what it was made from, and a table of hosts',
      hosts: [hs1, planned('hs2')],
      has: [
        /^### mxplay plan: 5 changes on 1 host\n/,
        'site.yml on inventory prod, limit matrix, -e synapse\\_max\\_upload\\_size=100M, -e synapse\\_registration\\_shared\\_secret=(secret); made 2025-03-01T10:00:00.000Z by mxplay ',
        '| host | changes |\n| --- | --- |\n| hs1 | `+` 2 `~` 1 `?` 1 `!` 1 |\n| hs2 | no changes |',
      ],
    },
    {
      name: 'each host collapsible, each change on its line, diffs fenced as diff',
      hosts: [hs1, planned('hs2')],
      has: [
        '<details><summary>hs1 — 5 changes</summary>\n\n`+` apt `nginx` (nginx): install nginx\n',
        '`~` template `/etc/app.conf` (app): content\n\n```diff\n--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1,2 +1,2 @@\n-port = 80\n+port = 8080\n token = ********\n```\n',
        '`?` service `nginx` (nginx): unit nginx not found; known after apt nginx',
        '`!` handler `reload nginx`: pending from an earlier run',
      ],
      lacks: ['<summary>hs2'],
    },
    {
      name: 'secrets are masked, a secret file is only said to change',
      hosts: [hs1],
      has: ['`+` file `/etc/app.key` (app): create (0600 root:root)\n\n*(secret content changes; not shown)*'],
      lacks: [SECRET, 'a'.repeat(64)],
    },
    {
      name: 'a host that could not be planned says why',
      hosts: [planned('hs3', { status: 'unreachable', message: 'connect ETIMEDOUT 10.0.0.3:22' })],
      has: ['| hs3 | **unreachable**: connect ETIMEDOUT 10.0.0.3:22 |', '<details><summary>hs3 — unreachable</summary>\n\n```\nconnect ETIMEDOUT 10.0.0.3:22\n```', /, 1 failed\n/],
    },
    {
      name: 'names with markdown in them stay what they are',
      hosts: [planned('web|1', { changes: [{ action: '+', type: 'command', id: 'echo `id` | tee *x*', role: 'tasks', summary: 'run <b>now</b>' }] })],
      has: ['| web\\|1 |', '<summary>web|1 — 1 change</summary>', '`+` command ``echo `id` \\| tee *x*`` (tasks): run &lt;b&gt;now&lt;/b&gt;'],
    },
    {
      name: 'a diff holding a fence gets a longer fence',
      hosts: [planned('hs1', { changes: [{ action: '+', type: 'file', id: '/srv/README.md', role: 'docs', summary: 'create', diff: '+```sh\n+ls\n+```' }] })],
      has: ['````diff\n+```sh\n+ls\n+```\n````'],
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const md = renderPlanMarkdown(makePlanFile(inputs, r.hosts, reg, created), reg);
      for (const h of r.has) typeof h === 'string' ? expect(md).toContain(h) : expect(md).toMatch(h);
      for (const l of r.lacks ?? []) expect(md).not.toContain(l);
    });
  }

  it('a secret that reaches the renderer unmasked is masked on the way out', () => {
    const pf = makePlanFile(inputs, [hs1], reg, created);
    pf.hosts[0]!.changes[0]!.summary = `install with ${SECRET}`;
    expect(renderPlanMarkdown(pf, reg)).not.toContain(SECRET);
    expect(renderPlanFileText(pf, false, reg)).not.toContain(SECRET);
  });
});

describe('markdown escaping', () => {
  const rows: [string, (s: string) => string, string, string][] = [
    ['plain text', mdText, 'a_b *c* <d> | e', 'a\\_b \\*c\\* &lt;d&gt; \\| e'],
    ['code without backticks', mdCode, '/etc/nginx', '`/etc/nginx`'],
    ['code with a backtick', mdCode, 'a`b', '``a`b``'],
    ['code starting with a backtick', mdCode, '`x', '`` `x ``'],
    ['code with a pipe (table cells)', mdCode, 'a|b', '`a\\|b`'],
  ];
  for (const [name, f, input, want] of rows) it(name, () => expect(f(input)).toBe(want));
  it('fences are at least three backticks', () => expect(mdFence('x', 'diff')).toBe('```diff\nx\n```'));
});

describe('renderPlanFileText', () => {
  it('the layout of run --check, with what the plan was made from and its totals', () => {
    const text = renderPlanFileText(makePlanFile(inputs, [hs1, planned('hs2')], reg, created), false, reg);
    expect(text).toBe(
      [
        `Plan of site.yml on inventory prod, limit matrix, -e synapse_max_upload_size=100M, -e synapse_registration_shared_secret=(secret); made 2025-03-01T10:00:00.000Z by mxplay ${makePlanFile(inputs, [], reg, created).mxplay}`,
        '',
        'hs1  5 changes',
        '  + apt nginx  [nginx]  install nginx',
        '  ~ template /etc/app.conf  [app]  content',
        '      --- /etc/app.conf',
        '      +++ /etc/app.conf',
        '      @@ -1,2 +1,2 @@',
        '      -port = 80',
        '      +port = 8080',
        '       token = ********',
        '  + file /etc/app.key  [app]  create (0600 root:root)',
        '      (secret content changes; not shown)',
        '  ? service nginx  [nginx]  unit nginx not found; known after apt nginx',
        '  ! handler reload nginx  pending from an earlier run',
        'hs2  no changes',
        '',
        'Plan: 5 changes on 1 host',
        '',
      ].join('\n'),
    );
  });
});
