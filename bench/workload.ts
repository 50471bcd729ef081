// The bench workload, in one place: what the mxplay playbook (mxplay.yml + roles/benchconf) and
// the Ansible playbook (ansible.yml + ansible-templates/) both converge on every host, and what
// the bare floor (floor.ts) probes. gen-workload.ts writes the playbooks and the 40 template pairs
// from this file; role.ts reads it at run time.
//
// Per host, 59 resources: 10 directories, 40 rendered config files, 1 line edit, 5 package
// presence checks, 1 guarded command, and 2 handlers (plus Ansible's fact gathering).
//
// The larger workloads (about 600 and 3000 resources, mxplay and the floor only) add "tenants" on
// top: per tenant one directory and 5 rendered files, and every 10th tenant a system user (see
// scaleFor). Packages stay 5: apt is slow and would measure apt, not the tool.

/** The play's variables (identical in both playbooks). */
export const BENCH_VARS = {
  bench_app: 'benchapp',
  bench_listen: '127.0.0.1',
  bench_port: 8400,
  bench_workers: 4,
  bench_log_level: 'info',
  bench_peers: ['peer-a.lab.test', 'peer-b.lab.test', 'peer-c.lab.test'],
  bench_token: 'bench-token-0123456789abcdef',
  bench_journal_max: '64M',
  bench_client_alive: 300,
};

/** `--check` after one variable changed: `-e bench_workers=8` touches 3 templates and the line edit. */
export const CHANGED_VAR = { name: 'bench_workers', value: 8 } as const;

export interface Dir {
  path: string;
  mode: number;
  group?: string;
}

export const DIRECTORIES: Dir[] = [
  { path: '/etc/benchapp', mode: 0o755 },
  { path: '/etc/benchapp/conf.d', mode: 0o755 },
  { path: '/etc/benchapp/sites', mode: 0o750, group: 'adm' },
  { path: '/etc/benchapp/secrets', mode: 0o700 },
  { path: '/etc/systemd/journald.conf.d', mode: 0o755 },
  { path: '/var/lib/benchapp', mode: 0o750 },
  { path: '/var/lib/benchapp/data', mode: 0o750 },
  { path: '/var/log/benchapp', mode: 0o750, group: 'adm' },
  { path: '/var/cache/benchapp', mode: 0o755 },
  { path: '/opt/benchapp', mode: 0o755 },
];

export interface Tpl {
  /** file name under roles/benchconf/templates/ (.ejs) and ansible-templates/ (.j2), no extension */
  name: string;
  dest: string;
  mode: number;
  group?: string;
  notify?: string;
}

export const HANDLER_SSH = 'reload ssh';
export const HANDLER_APP = 'restart benchapp';

export const TOPICS = [
  'core', 'http', 'storage', 'cache', 'queue', 'auth', 'session', 'metrics', 'tracing', 'logging',
  'mail', 'search', 'upload', 'media', 'thumbnail', 'federation', 'presence', 'push', 'rate-limit', 'backup',
  'cron', 'webhook', 'export', 'import', 'audit', 'quota', 'i18n', 'theme', 'health', 'admin',
];
export const SITES = ['www', 'api', 'admin', 'status', 'docs', 'media'];

export const TEMPLATES: Tpl[] = [
  { name: 'benchapp.conf', dest: '/etc/benchapp/benchapp.conf', mode: 0o644, notify: HANDLER_APP },
  ...TOPICS.map((t, i) => {
    const n = `${String(i + 1).padStart(2, '0')}-${t}.conf`;
    return { name: `conf.d-${n}`, dest: `/etc/benchapp/conf.d/${n}`, mode: 0o644 };
  }),
  ...SITES.map((s) => ({ name: `site-${s}.conf`, dest: `/etc/benchapp/sites/${s}.conf`, mode: 0o640, group: 'adm' })),
  { name: 'token.conf', dest: '/etc/benchapp/secrets/token.conf', mode: 0o600 },
  { name: 'sshd-benchapp.conf', dest: '/etc/ssh/sshd_config.d/50-benchapp.conf', mode: 0o644, notify: HANDLER_SSH },
  { name: 'journald-benchapp.conf', dest: '/etc/systemd/journald.conf.d/50-benchapp.conf', mode: 0o644 },
];

/**
 * The line edit. The "distribution" file is put on each host by the bench's set-up; Ansible
 * changes one line with lineinfile, mxplay (which has no lineinfile) manages the whole file with a
 * `file` resource whose content is the original with that one line replaced.
 */
export const LINE_EDIT = {
  path: '/etc/default/benchapp',
  original: [
    '# Defaults for benchapp, sourced by its init scripts.',
    '',
    '# Options passed to the daemon.',
    'BENCH_OPTS=""',
    '',
    '# Uncomment to enable debug output.',
    '#BENCH_DEBUG=1',
    '',
  ].join('\n'),
  regexp: '^BENCH_OPTS=',
  line: (workers: number | string) => `BENCH_OPTS="--workers ${workers}"`,
};

export function lineEditContent(workers: number | string): string {
  return LINE_EDIT.original.replace(/^BENCH_OPTS=.*$/m, LINE_EDIT.line(workers));
}

/** Package presence checks: all already in the lab base. */
export const PACKAGES = ['openssh-server', 'python3', 'curl', 'sudo', 'procps'];

/** The guarded command: runs once, skipped when its marker exists. */
export const GUARDED = {
  cmd: 'date -u +%Y-%m-%dT%H:%M:%SZ > /var/lib/benchapp/.initialised',
  creates: '/var/lib/benchapp/.initialised',
};

/**
 * A reload of sshd, and a restart of the app whose files these are: a stand-in unit the set-up
 * installs (as its package would). Not a system service: systemd refuses a 6th start of a unit
 * within 10 s (start-limit-hit), and the bench restarts it on every first run, back to back.
 */
export const HANDLERS = [
  { name: HANDLER_SSH, service: 'ssh', state: 'reloaded' as const },
  { name: HANDLER_APP, service: 'benchapp', state: 'restarted' as const },
];

/** Once per host, before anything is timed: the app's unit (kept by resets). */
export function setupScript(): string {
  const unit = [
    '[Unit]',
    'Description=bench stand-in for the app whose configuration the bench renders',
    'StartLimitIntervalSec=0',
    '[Service]',
    'ExecStart=/bin/sleep infinity',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return [
    `printf '%s' '${unit}' > /etc/systemd/system/benchapp.service`,
    'systemctl daemon-reload',
    'systemctl enable --now benchapp.service',
  ].join('\n');
}

/** Resources per host, as counted in the results. */
export const RESOURCE_COUNT = DIRECTORIES.length + TEMPLATES.length + 1 + PACKAGES.length + 1 + HANDLERS.length;

// ---------------------------------------------------------------------------------------------
// the resources axis: tenants

/** Every tenant's directory lives below this one (itself one resource when there are tenants). */
export const TENANT_ROOT = '/srv/benchapp';
/** The files of each tenant: template `tenant-KIND.conf.ejs`, written to TENANT_ROOT/tNNNN/KIND.conf. */
export const TENANT_FILES = [
  { kind: 'tenant', mode: 0o640 },
  { kind: 'limits', mode: 0o640 },
  { kind: 'routes', mode: 0o640 },
  { kind: 'logging', mode: 0o640 },
  { kind: 'secret', mode: 0o600 },
] as const;
/** Every USER_EVERY-th tenant has a system user of its own (no home, no login shell). */
export const USER_EVERY = 10;
export const TENANT_USER_SHELL = '/usr/sbin/nologin';
/** The mxplay role's variable that sets the number of tenants (given with -e; 0 in the playbook). */
export const TENANTS_VAR = 'bench_tenants';

export interface Scale {
  tenants: number;
  users: number;
  /** resources per host, as counted in the results (the base workload's included) */
  resources: number;
}

export const tenantName = (i: number) => `t${String(i).padStart(4, '0')}`;
export const tenantUser = (i: number) => `b${tenantName(i)}`;

/** The workload closest to `wanted` resources per host: the base 59 alone up to 60. */
export function scaleFor(wanted: number): Scale {
  const perTenant = TENANT_FILES.length + 1 + 1 / USER_EVERY;
  const tenants = wanted <= RESOURCE_COUNT + 1 ? 0 : Math.max(1, Math.round((wanted - RESOURCE_COUNT - 1) / perTenant));
  return scaleOf(tenants);
}

export function scaleOf(tenants: number): Scale {
  const users = Math.floor(tenants / USER_EVERY);
  return { tenants, users, resources: RESOURCE_COUNT + (tenants ? 1 + tenants * (TENANT_FILES.length + 1) : 0) + users };
}

export interface TenantFile {
  /** template file name, no extension (roles/benchconf/templates/NAME.ejs) */
  src: string;
  dest: string;
  mode: number;
  data: { tenant: string; tenant_index: number };
}

/** The tenants' directories (TENANT_ROOT first), files and users, in the order mxplay's role declares them. */
export function tenantResources(tenants: number): { dirs: Dir[]; files: TenantFile[]; users: string[] } {
  const dirs: Dir[] = tenants ? [{ path: TENANT_ROOT, mode: 0o755 }] : [];
  const files: TenantFile[] = [];
  const users: string[] = [];
  for (let i = 1; i <= tenants; i++) {
    const t = tenantName(i);
    dirs.push({ path: `${TENANT_ROOT}/${t}`, mode: 0o750 });
    for (const f of TENANT_FILES) {
      files.push({ src: `tenant-${f.kind}.conf`, dest: `${TENANT_ROOT}/${t}/${f.kind}.conf`, mode: f.mode, data: { tenant: t, tenant_index: i } });
    }
    if (i % USER_EVERY === 0) users.push(tenantUser(i));
  }
  return { dirs, files, users };
}

/**
 * Puts a host back to before the first run: everything the workload creates is removed, the line
 * edit's file is the distribution's again, and mxplay's own state (backups, pending handlers) is
 * gone. Run over OpenSSH by the harness, outside the timings.
 */
export function resetScript(): string {
  const gone = [
    ...DIRECTORIES.map((d) => d.path),
    ...TEMPLATES.map((t) => t.dest),
    '/var/lib/mxplay',
  ];
  return [
    `rm -rf ${gone.join(' ')} ${TENANT_ROOT}`,
    // the tenants' users of any scale: btNNNN
    `getent passwd | cut -d: -f1 | grep -E '^bt[0-9]{4}$' | xargs -r -n1 userdel`,
    `printf '%s' '${LINE_EDIT.original.replaceAll("'", `'\\''`)}' > ${LINE_EDIT.path}`,
    `chmod 0644 ${LINE_EDIT.path}`,
  ].join('\n');
}
