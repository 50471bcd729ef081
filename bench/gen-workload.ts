// Writes both sides of the bench workload from workload.ts:
//   roles/benchconf/templates/*.ejs   (mxplay's role renders these; the tenant-*.ejs of the larger
//                                      workloads too, which only mxplay and the floor run)
//   ansible-templates/*.j2            (Ansible's template tasks render these)
//   mxplay.yml, ansible.yml           (the two playbooks)
// Each template is written once, against a tiny syntax table, so the .ejs and the .j2 render the
// same bytes (the harness checks it: each tool's converged hosts are a no-op for the other).
//
//   npx tsx bench/gen-workload.ts
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  BENCH_VARS, DIRECTORIES, GUARDED, HANDLERS, LINE_EDIT, PACKAGES, SITES, TEMPLATES, TENANT_FILES, TOPICS, type Tpl,
} from './workload.ts';

const BENCH = dirname(fileURLToPath(import.meta.url));

interface Syntax {
  /** an expression of the play's variables (names, + with a number) */
  v(expr: string): string;
  /** the inventory name of the host */
  host: string;
  /** a loop over a list variable; `body` is whole lines */
  each(list: string, item: string, body: string): string;
}

const EJS: Syntax = {
  v: (e) => `<%= ${e} %>`,
  host: '<%= host %>',
  each: (list, item, body) => `<% for (const ${item} of ${list}) { -%>\n${body}<% } -%>\n`,
};
// Ansible renders with trim_blocks on: the newline after a block tag is dropped, as EJS's -%>.
const J2: Syntax = {
  v: (e) => `{{ ${e} }}`,
  host: '{{ inventory_hostname }}',
  each: (list, item, body) => `{% for ${item} in ${list} %}\n${body}{% endfor %}\n`,
};

const header = (s: Syntax, what: string) =>
  `# ${s.v('bench_app')} ${what} - managed by the bench, rendered for ${s.host}; local changes are overwritten\n`;

function topic(s: Syntax, i: number, name: string): string {
  const n = i + 1;
  const lines = [
    header(s, name),
    `[${name}]\n`,
    'enabled = true\n',
    `listen = ${s.v('bench_listen')}:${s.v(`bench_port + ${n}`)}\n`,
    n % 2 === 0 ? `log_level = ${s.v('bench_log_level')}\n` : '',
    n === 1 || n === 15 ? `workers = ${s.v('bench_workers')}\n` : '',
    `data_dir = /var/lib/${s.v('bench_app')}/data/${name}\n`,
    `cache_dir = /var/cache/${s.v('bench_app')}/${name}\n`,
    `timeout_ms = ${n * 250}\n`,
    `retries = ${(n % 5) + 1}\n`,
    n % 3 === 0 ? `\n[${name}.peers]\n${s.each('bench_peers', 'peer', `peer = ${s.v('peer')}:${s.v(`bench_port + ${n}`)}\n`)}` : '',
  ];
  return lines.join('');
}

function site(s: Syntax, k: number, name: string): string {
  return [
    header(s, `site ${name}`),
    'server {\n',
    `  name = ${name}.${s.host}.lab.test\n`,
    `  upstream = ${s.v('bench_listen')}:${s.v(`bench_port + ${100 + k}`)}\n`,
    `  access_log = /var/log/${s.v('bench_app')}/${name}.access.log\n`,
    `  error_log = /var/log/${s.v('bench_app')}/${name}.error.log\n`,
    `  log_level = ${s.v('bench_log_level')}\n`,
    '}\n',
  ].join('');
}

function body(s: Syntax, t: Tpl): string {
  if (t.name === 'benchapp.conf') {
    return [
      header(s, 'main configuration'),
      `name = ${s.v('bench_app')}\n`,
      `listen = ${s.v('bench_listen')}:${s.v('bench_port')}\n`,
      `workers = ${s.v('bench_workers')}\n`,
      `log_level = ${s.v('bench_log_level')}\n`,
      `include = /etc/${s.v('bench_app')}/conf.d/*.conf\n`,
      `sites = /etc/${s.v('bench_app')}/sites/*.conf\n`,
      `\n[cluster]\n${s.each('bench_peers', 'peer', `member = ${s.v('peer')}\n`)}`,
    ].join('');
  }
  if (t.name === 'token.conf') return `${header(s, 'API token')}token = ${s.v('bench_token')}\n`;
  if (t.name === 'sshd-benchapp.conf') {
    return `${header(s, 'sshd settings')}ClientAliveInterval ${s.v('bench_client_alive')}\nClientAliveCountMax 3\n`;
  }
  if (t.name === 'journald-benchapp.conf') return `${header(s, 'journald settings')}[Journal]\nSystemMaxUse=${s.v('bench_journal_max')}\n`;
  const m = /^conf\.d-(\d+)-(.+)\.conf$/.exec(t.name);
  if (m) return topic(s, Number(m[1]) - 1, m[2]!);
  const site_ = /^site-(.+)\.conf$/.exec(t.name);
  if (site_) return site(s, SITES.indexOf(site_[1]!), site_[1]!);
  throw new Error(`no body for template ${t.name}`);
}

/** A tenant's files (EJS only: the larger workloads are not run by Ansible). `tenant` and
 * `tenant_index` come as the template's data. */
function tenantBody(kind: (typeof TENANT_FILES)[number]['kind']): string {
  const s = EJS;
  const head = `${header(s, `tenant <%= tenant %> ${kind}`)}[${kind}]\n`;
  switch (kind) {
    case 'tenant':
      return `${head}name = <%= tenant %>\nlisten = ${s.v('bench_listen')}:<%= bench_port + 1000 + tenant_index %>\ndata_dir = /var/lib/${s.v('bench_app')}/tenants/<%= tenant %>\nlog_level = ${s.v('bench_log_level')}\n`;
    case 'limits':
      return `${head}max_connections = <%= 50 + tenant_index %>\nmax_upload_mb = <%= 10 + (tenant_index % 90) %>\nrequests_per_minute = <%= 600 * (1 + tenant_index % 4) %>\n`;
    case 'routes':
      return `${head}${s.each('bench_peers', 'peer', `route = /<%= tenant %>/ -> ${s.v('peer')}:<%= bench_port + tenant_index %>\n`)}`;
    case 'logging':
      return `${head}access_log = /var/log/${s.v('bench_app')}/<%= tenant %>.access.log\nerror_log = /var/log/${s.v('bench_app')}/<%= tenant %>.error.log\nlevel = ${s.v('bench_log_level')}\n`;
    case 'secret':
      return `${head}token = ${s.v('bench_token')}-<%= tenant %>\n`;
  }
}

const mode = (m: number) => m.toString(8).padStart(4, '0');
const GENERATED = '# Generated by bench/gen-workload.ts from bench/workload.ts; edit those, then re-run it.\n';

function writeTemplates() {
  const ejsDir = join(BENCH, 'roles/benchconf/templates');
  const j2Dir = join(BENCH, 'ansible-templates');
  for (const d of [ejsDir, j2Dir]) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
  }
  for (const t of TEMPLATES) {
    writeFileSync(join(ejsDir, `${t.name}.ejs`), body(EJS, t));
    writeFileSync(join(j2Dir, `${t.name}.j2`), body(J2, t));
  }
  for (const f of TENANT_FILES) writeFileSync(join(ejsDir, `tenant-${f.kind}.conf.ejs`), tenantBody(f.kind));
}

function mxplayPlaybook(): string {
  const play = {
    name: 'bench workload',
    hosts: 'bench',
    vars: BENCH_VARS,
    // 10 directories, 40 templates and the line edit (a whole-file `file`) come from the role.
    roles: ['benchconf'],
    tasks: [
      ...PACKAGES.map((p) => ({ name: `package ${p}`, apt: { names: [p] } })),
      { name: 'initialise once', command: { cmd: GUARDED.cmd, creates: GUARDED.creates } },
    ],
    handlers: HANDLERS.map((h) => ({ name: h.name, service: { name: h.service, state: h.state } })),
  };
  return GENERATED + stringify([play], { lineWidth: 0 });
}

function ansiblePlaybook(): string {
  const tasks = [
    ...DIRECTORIES.map((d) => ({
      name: `directory ${d.path}`,
      'ansible.builtin.file': { path: d.path, state: 'directory', mode: mode(d.mode), owner: 'root', group: d.group ?? 'root' },
    })),
    ...TEMPLATES.map((t) => ({
      name: `template ${t.dest}`,
      'ansible.builtin.template': { src: `ansible-templates/${t.name}.j2`, dest: t.dest, mode: mode(t.mode), owner: 'root', group: t.group ?? 'root' },
      ...(t.notify ? { notify: t.notify } : {}),
    })),
    {
      name: `line edit ${LINE_EDIT.path}`,
      'ansible.builtin.lineinfile': { path: LINE_EDIT.path, regexp: LINE_EDIT.regexp, line: LINE_EDIT.line('{{ bench_workers }}') },
    },
    ...PACKAGES.map((p) => ({ name: `package ${p}`, 'ansible.builtin.apt': { name: p, state: 'present' } })),
    // shell, not command: the guarded command writes through a redirection.
    { name: 'initialise once', 'ansible.builtin.shell': { cmd: GUARDED.cmd, creates: GUARDED.creates } },
  ];
  const play = {
    name: 'bench workload',
    hosts: 'bench',
    vars: BENCH_VARS,
    tasks,
    handlers: HANDLERS.map((h) => ({ name: h.name, 'ansible.builtin.service': { name: h.service, state: h.state } })),
  };
  return GENERATED + stringify([play], { lineWidth: 0 });
}

writeTemplates();
writeFileSync(join(BENCH, 'mxplay.yml'), mxplayPlaybook());
writeFileSync(join(BENCH, 'ansible.yml'), ansiblePlaybook());
console.log(`wrote ${TEMPLATES.length} .ejs + ${TEMPLATES.length} .j2 templates, ${TENANT_FILES.length} tenant .ejs templates, mxplay.yml, ansible.yml (topics: ${TOPICS.length})`);
