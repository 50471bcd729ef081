import { defineRole, z, directory, template, file, user } from 'mxplay';
import { DIRECTORIES, TEMPLATES, LINE_EDIT, TENANT_USER_SHELL, lineEditContent, tenantResources } from '../../workload.ts';

// The bench's config files: mxplay's side of Ansible's 10 `file: state=directory` tasks, 40
// `template` tasks and one `lineinfile` (here a whole-file `file`: mxplay has no line edit).
// The templates are written by bench/gen-workload.ts from bench/workload.ts.
// With bench_tenants > 0 (the larger workloads of the resources axis, given with -e): per tenant
// a directory and 5 rendered files, every 10th tenant a system user (workload.ts, tenantResources).
export default defineRole({
  name: 'benchconf',
  description: 'bench workload: 10 directories, 40 rendered config files, 1 line edit; and bench_tenants tenants',
  vars: z.object({
    bench_app: z.string(),
    bench_listen: z.string(),
    bench_port: z.number().int(),
    bench_workers: z.number().int(),
    bench_log_level: z.string(),
    bench_peers: z.array(z.string()),
    bench_token: z.string(),
    bench_journal_max: z.string(),
    bench_client_alive: z.number().int(),
    bench_tenants: z.number().int().min(0).default(0),
  }),
  tasks: (v) => {
    const tenants = tenantResources(v.bench_tenants);
    return [
      DIRECTORIES.map((d) => directory({ path: d.path, mode: d.mode, owner: 'root', group: d.group ?? 'root' })),
      TEMPLATES.map((t) =>
        template({
          path: t.dest,
          src: `${t.name}.ejs`,
          mode: t.mode,
          owner: 'root',
          group: t.group ?? 'root',
          ...(t.notify ? { notify: t.notify } : {}),
        }),
      ),
      file({ path: LINE_EDIT.path, content: lineEditContent(v.bench_workers), mode: 0o644 }),
      tenants.users.map((name) => user({ name, system: true, shell: TENANT_USER_SHELL })),
      tenants.dirs.map((d) => directory({ path: d.path, mode: d.mode, owner: 'root', group: 'root' })),
      tenants.files.map((f) => template({ path: f.dest, src: `${f.src}.ejs`, data: f.data, mode: f.mode, owner: 'root', group: 'root' })),
    ];
  },
});
