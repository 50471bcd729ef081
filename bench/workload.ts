// The bench workload, in one place: what the mxplay playbook (mxplay.yml + roles/benchconf) and
// the Ansible playbook (ansible.yml + ansible-templates/) both converge on every host, and what
// the bare floor (floor.ts) probes. gen-workload.ts writes the playbooks and the 40 template pairs
// from this file; role.ts reads it at run time.
//
// Per host, 59 resources: 10 directories, 40 rendered config files, 1 line edit, 5 package
// presence checks, 1 guarded command, and 2 handlers (plus Ansible's fact gathering).

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
    `rm -rf ${gone.join(' ')}`,
    `printf '%s' '${LINE_EDIT.original.replaceAll("'", `'\\''`)}' > ${LINE_EDIT.path}`,
    `chmod 0644 ${LINE_EDIT.path}`,
  ].join('\n');
}
