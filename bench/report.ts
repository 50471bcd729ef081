// bench/RESULTS.md, from the results alone (like the charts): the goals, both axes, the other
// points, --forks, the dead connection, site.yml, and how to reproduce it all.
import { goalsTable } from './goals.ts';
import { siteTable, SITE_NOTE } from './site.ts';
import {
  axes, fmtRatio, fmtS, KIND_LABEL, KINDS, median, ratioOf, samplesOf, stat, type Point, type Results, type Tool,
} from './results.ts';
import { fastestForks } from './forks.ts';
import type { Chart } from './charts.ts';
import { CHANGED_VAR, DIRECTORIES, HANDLERS, PACKAGES, RESOURCE_COUNT, TEMPLATES, TENANT_FILES, USER_EVERY } from './workload.ts';

function cell(p: Point, tool: Tool, kind: (typeof KINDS)[number]): string {
  const s = stat(p, tool, kind);
  return s ? `${fmtS(s.median)}${s.n > 1 ? ` (${fmtS(s.min)}–${fmtS(s.max)})` : ''}` : '–';
}

export function pointsTable(points: Point[]): string {
  const rows = [
    '| hosts | resources per host | run | mxplay s | floor s | mxplay ÷ floor | Ansible s | Ansible ÷ mxplay | mxplay round trips per host | mxplay peak RSS | load (1 min) |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | :---: |',
  ];
  for (const p of points) {
    for (const kind of KINDS) {
      if (!p.samples.some((s) => s.kind === kind)) continue;
      const rts = samplesOf(p, 'mxplay', kind).flatMap((s) => s.roundTrips ?? []);
      const rt = rts.length ? (Math.min(...rts) === Math.max(...rts) ? `${rts[0]}` : `${Math.min(...rts)}–${Math.max(...rts)}`) : '–';
      const rss = p.rssKb[kind];
      const loads = p.samples.filter((s) => s.kind === kind).map((s) => s.load1);
      const load = loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '–';
      rows.push(
        `| ${p.hosts} | ${p.resources} | ${KIND_LABEL[kind]} | ${cell(p, 'mxplay', kind)} | ${cell(p, 'floor', kind)} | ${fmtRatio(ratioOf(p, 'mxplay', 'floor', kind))} | ${cell(p, 'ansible', kind)} | ${fmtRatio(ratioOf(p, 'ansible', 'mxplay', kind))} | ${rt} | ${rss ? `${Math.round(rss / 1024)} MB` : '–'} | ${load} |`,
      );
    }
  }
  return rows.join('\n');
}

/** mxplay's own split: per host from its connect to its end (--json `seconds`, the slowest host), and the rest of the process. */
function splitTable(points: Point[]): string {
  const rows = [
    '| hosts | resources | run | mxplay process s | of which hosts: connect to end s (slowest host) | rest: start-up, parse, build, output s |',
    '| ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  const f = (x: number) => x.toFixed(3);
  for (const p of points) {
    for (const kind of KINDS) {
      const xs = samplesOf(p, 'mxplay', kind).filter((s) => s.hostSeconds);
      if (!xs.length) continue;
      const total = median(xs.map((s) => s.ms / 1000));
      const host = median(xs.map((s) => Math.max(...s.hostSeconds!)));
      rows.push(`| ${p.hosts} | ${p.resources} | ${KIND_LABEL[kind]} | ${f(total)} | ${f(host)} | ${f(median(xs.map((s) => s.ms / 1000 - Math.max(...s.hostSeconds!))))} |`);
    }
  }
  return rows.join('\n');
}

function forksTable(r: Results): string {
  const values = [...new Set(r.forks.flatMap((f) => f.runs.map((x) => x.forks)))].sort((a, b) => a - b);
  const rows = [
    `| hosts | resources | ${values.map((v) => `\`--forks ${v}\` s`).join(' | ')} | fastest |`,
    `| ---: | ---: | ${values.map(() => '---:').join(' | ')} | --- |`,
  ];
  for (const f of r.forks) {
    const cells = values.map((v) => {
      const ms = f.runs.find((x) => x.forks === v)?.ms ?? [];
      if (!ms.length) return '–';
      const s = ms.map((m) => m / 1000);
      return `${fmtS(median(s))}${s.length > 1 ? ` (${fmtS(Math.min(...s))}–${fmtS(Math.max(...s))})` : ''}`;
    });
    const best = fastestForks(f);
    const margin = best.next ? `, ${((best.next.medianS / best.medianS - 1) * 100).toFixed(0)}% ahead of \`--forks ${best.next.forks}\`` : '';
    rows.push(`| ${f.hosts} | ${f.resources} | ${cells.join(' | ')} | \`--forks ${best.forks}\`${margin} |`);
  }
  return rows.join('\n');
}

function workloadText(r: Results): string {
  const sizes = [...new Set(r.points.map((p) => `${p.resources}:${p.tenants}`))].map((x) => x.split(':').map(Number) as [number, number]).sort((a, b) => a[0] - b[0]);
  const larger = sizes.filter(([, t]) => t > 0);
  return `Workload, per host: the base workload of ${RESOURCE_COUNT} resources, ${DIRECTORIES.length} directories with modes, ${TEMPLATES.length} config
files rendered from templates, 1 line edit (Ansible \`lineinfile\`; mxplay has no line edit, so a \`file\` with the
whole content), ${PACKAGES.length} package presence checks (${PACKAGES.join(', ')}: already installed), 1 guarded command
(\`creates\`), 2 handlers (reload ssh; restart \`benchapp.service\`, a stand-in unit for the app that the set-up
installs; both run in the first run only). Ansible also gathers facts (its default) and runs the base workload only.
${larger.length ? `The larger workloads (mxplay and the floor) add tenants to it: per tenant a directory and ${TENANT_FILES.length} rendered files, every
${USER_EVERY}th tenant a system user, and their parent directory: ${larger.map(([n, t]) => `${n} resources = ${t} tenants`).join(', ')}.
` : ''}\`--check\` is run after \`-e ${CHANGED_VAR.name}=${CHANGED_VAR.value}\`: 4 changes per host at every size (Ansible with \`--diff\`).
The floor (\`bench/floor.ts\`): Node + ssh2 with one connection per host, all hosts at once, one exec
probing every resource, and for a first run one more exec that unpacks every file and directory from one tar
stream, adds the users and runs the command and handlers: the least a converge can cost from this machine.`;
}

const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

function costText(r: Results): string {
  if (!r.phases?.length) return '';
  const total = r.phases.reduce((a, p) => a + p.s, 0);
  return `This run took ${minutes(total)} of wall-clock time:

| part | time |
| --- | ---: |
${r.phases.map((p) => `| ${p.what} | ${minutes(p.s)} |`).join('\n')}
`;
}

export function report(r: Results, chartList: Chart[]): string {
  const date = r.started.slice(0, 16).replace('T', ' ') + ' UTC';
  const { hostsAxis, resourcesAxis, others } = axes(r.points);
  const chart = (file: string) => {
    const c = chartList.find((x) => x.file === file);
    return c ? `![${c.title}](charts/${c.file})\n\n` : '';
  };
  const reps = (tool: Tool) => [...new Set(r.points.flatMap((p) => KINDS.map((k) => p.reps[tool][k]).filter((n) => n > 0)))].join(' or ') || '0';
  const runs = (n: string) => `${n} run${n === '1' ? '' : 's'}`;
  const dead = r.deadConnection;
  return `# mxplay vs the floor vs Ansible: measured

Measured ${date} by \`${r.command}\` (bench/run.ts)${r.quick ? '. **A quick validation run (one repetition, few points): not the reference figures.**' : r.legacy ? ', the bench before its resources axis (59 resources, 1 and 5 hosts): these tables and charts are that run\'s results.json in the present layout; `npm run bench` measures the whole matrix.' : '.'}

| | |
| --- | --- |
${Object.entries(r.info).map(([k, v]) => `| ${k} | ${v} |`).join('\n')}

${workloadText(r)}

Seconds, whole process timed from outside (spawn to exit): median (min–max) of ${runs(reps('mxplay'))} for mxplay and the floor,
${runs(reps('ansible'))} for Ansible, the tools interleaved. First runs start from reset hosts. Peak RSS: one more run of each kind
under GNU time, untimed.

## Goals

${goalsTable(r)}

## Hosts axis${hostsAxis.length ? ` (${hostsAxis[0]!.resources} resources per host)` : ''}

${chart('time-vs-hosts.svg')}${pointsTable(hostsAxis)}

## Resources axis${resourcesAxis.length ? ` (${resourcesAxis[0]!.hosts} host${resourcesAxis[0]!.hosts === 1 ? '' : 's'})` : ''}

${chart('time-vs-resources.svg')}${pointsTable(resourcesAxis)}
${others.length ? `
## Other points

${pointsTable(others)}
` : ''}
## Peak RSS

${chart('rss.svg')}${r.points.map((p) => `${p.hosts} × ${p.resources}: ${KINDS.filter((k) => p.rssKb[k]).map((k) => `${KIND_LABEL[k]} ${Math.round(p.rssKb[k]! / 1024)} MB`).join(', ')}`).join('; ')}.
${r.forks.length ? `
## \`--forks\`

mxplay's no-op on converged hosts with each \`--forks\` (the CLI's default is 10), interleaved:

${chart('forks.svg')}${forksTable(r)}
` : ''}
## A dead connection

${dead ? `One host's link cut (its port on the lab bridge down: every packet dropped, no reset, like a pulled cable)
while mxplay waits on a long step there: ${dead.reportedS === null ? `**not reported** within ${dead.timeoutS} s` : `reported after **${dead.reportedS.toFixed(1)} s**`} (mxplay exit ${dead.exitCode}: \`${dead.message.replaceAll('`', "'")}\`).
Killing the host's sshd session instead would measure nothing: its kernel closes the connection at once.` : 'Not measured in this run (`--no-dead-connection`).'}

## Where mxplay's time goes (medians of the same runs)

${splitTable(r.points)}
${r.site ? `
## The whole \`playbooks/site.yml\`

postgres, synapse, nginx (${SITE_NOTE}) on ${r.site.host}, converged once, then
${r.site.noop.length} no-op runs and ${r.site.check.length} \`--check\` runs, interleaved:

${siteTable(r.site)}
` : ''}
## Checked while measuring

Every timed run exited 0 and reported the expected changes on every host (a first run: every resource but the
packages, plus ${HANDLERS.length} handlers; a no-op 0; \`--check\` 4, which Ansible counts with the handler they notify); ${r.notes.join('; ')}.
${r.incidents.length ? `\nIncidents: ${r.incidents.join('; ')}.\n` : ''}
## Reproduce

\`\`\`sh
npm install                       # also builds the bundle (the bench rebuilds it when src/ or roles/ is newer)
npm run bench                     # as root, the defaults: --hosts 1,5,20,50 --resources 60,600,3000
                                  #   --points 50x600 --reps 3 --points-reps 1 --ansible-hosts 1,5,20 --ansible-reps 1
                                  #   --forks 5,10,20,50 --forks-hosts 20,50; boots bench1..bench50
npm run bench -- --grid           # every hosts × resources combination (50 × 3000 alone: most of an hour)
npm run bench -- --quick          # a minimal validation run, written to bench/quick/
npm run bench -- --help           # every option
npm run bench -- --report-only    # this file and the charts again from bench/results.json
npm run bench:charts              # the charts only, from bench/results.json
npx tsx bench/gen-workload.ts     # after editing bench/workload.ts
\`\`\`

${costText(r)}
Files: \`bench/workload.ts\` (the workload at every size), \`bench/gen-workload.ts\` (writes \`mxplay.yml\`, \`ansible.yml\`
and the templates), \`bench/roles/benchconf/\` (mxplay's role), \`bench/ansible-templates/\`, \`bench/ansible.cfg\`
(pipelining on, forks 5, strict host keys against the lab's known_hosts), \`bench/floor.ts\` (the floor),
\`bench/run.ts\` and its modules, \`bench/charts.ts\` (Vega-Lite), \`results.json\` (every sample).
`;
}
