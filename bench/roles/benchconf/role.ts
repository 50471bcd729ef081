import { defineRole, z, directory, template, file } from 'mxplay';
import { DIRECTORIES, TEMPLATES, LINE_EDIT, lineEditContent } from '../../workload.ts';

// The bench's config files: mxplay's side of Ansible's 10 `file: state=directory` tasks, 40
// `template` tasks and one `lineinfile` (here a whole-file `file`: mxplay has no line edit).
// The templates are written by bench/gen-workload.ts from bench/workload.ts.
export default defineRole({
  name: 'benchconf',
  description: 'bench workload: 10 directories, 40 rendered config files, 1 line edit',
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
  }),
  tasks: (v) => [
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
  ],
});
