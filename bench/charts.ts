// The bench's charts, drawn from bench/results.json alone (so a chart never disagrees with the
// tables of RESULTS.md, made from the same file): Vega-Lite specs compiled to Vega and rendered
// to SVG headless (no browser, no canvas).
//
//   npm run bench:charts [-- --out DIR]      re-draws DIR/charts/*.svg from DIR/results.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { BENCH } from './proc.ts';
import { axes, KINDS, loadResults, median, stat, TOOLS, type Kind, type Point, type Results, type Tool } from './results.ts';

const SERIES: Record<Tool, string> = { mxplay: 'mxplay', floor: 'floor (bare ssh2)', ansible: 'Ansible' };
const COLOR: Record<Tool, string> = { mxplay: '#1f6fb4', floor: '#7a7a7a', ansible: '#d9534f' };
const KIND_TITLE: Record<Kind, string> = { first: 'first run', noop: 'no-op', check: '--check, one var changed' };
const FONT = { font: 'DejaVu Sans, Verdana, sans-serif' };

export interface Chart {
  file: string;
  title: string;
  spec: TopLevelSpec;
}

type Row = { series: string; kind: string; x: number; median: number; min: number; max: number; n: number };

function timeRows(points: Point[], x: (p: Point) => number): Row[] {
  const rows: Row[] = [];
  for (const p of points) {
    for (const kind of KINDS) {
      for (const tool of TOOLS) {
        const s = stat(p, tool, kind);
        if (s) rows.push({ series: SERIES[tool], kind: KIND_TITLE[kind], x: x(p), median: s.median, min: s.min, max: s.max, n: s.n });
      }
    }
  }
  return rows;
}

/** 1-2-5 ticks over the data's range: a log axis labelled at every decade's 1..9 is unreadable. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(1));
      if (v >= lo / 2 && v <= hi * 2) out.push(v);
    }
  }
  return out;
}

/** Seconds (log) against hosts or resources (log), one panel per kind of run, medians with min–max. */
function timeChart(rows: Row[], xTitle: string, title: string, subtitle: string): TopLevelSpec {
  const ticks = logTicks(Math.min(...rows.map((r) => r.min)), Math.max(...rows.map((r) => r.max)));
  const xs = [...new Set(rows.map((r) => r.x))].sort((a, b) => a - b);
  const tools = TOOLS.filter((t) => rows.some((r) => r.series === SERIES[t]));
  const x = { field: 'x', type: 'quantitative' as const, title: xTitle, scale: { type: 'log' as const, nice: false, padding: 12 }, axis: { values: xs, format: 'd', grid: false } };
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: { domain: tools.map((t) => SERIES[t]), range: tools.map((t) => COLOR[t]) }, legend: { orient: 'bottom' as const, labelLimit: 400 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, anchor: 'start' },
    data: { values: rows },
    facet: { column: { field: 'kind', type: 'nominal', title: null, sort: KINDS.map((k) => KIND_TITLE[k]), header: { labelFontSize: 12 } } },
    spec: {
      width: 210,
      height: 230,
      layer: [
        { mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color } },
        {
          mark: { type: 'line', point: { size: 45, filled: true }, strokeWidth: 1.5 },
          encoding: {
            x,
            y: { field: 'median', type: 'quantitative', title: 'seconds (median, bar: min–max; log)', scale: { type: 'log' }, axis: { values: ticks } },
            color,
            tooltip: [{ field: 'series' }, { field: 'x', title: xTitle }, { field: 'median', format: '.3f' }, { field: 'n', title: 'runs' }],
          },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
    config: { ...FONT, view: { stroke: '#ddd' } },
  };
}

function rssChart(r: Results): TopLevelSpec {
  const rows = r.points.flatMap((p) =>
    KINDS.filter((k) => p.rssKb[k]).map((k) => ({ point: `${p.hosts} × ${p.resources}`, order: p.hosts * 1e5 + p.resources, kind: KIND_TITLE[k], mb: Math.round(p.rssKb[k]! / 1024) })),
  );
  const order = [...new Map(rows.map((x) => [x.point, x.order])).entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'mxplay peak RSS', subtitle: 'per run kind, one run each under GNU time; line: the 200 MB goal', anchor: 'start' },
    width: Math.max(260, order.length * 48),
    height: 230,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'point', type: 'ordinal', sort: order, title: 'hosts × resources per host', axis: { labelAngle: -30 } },
          xOffset: { field: 'kind', sort: KINDS.map((k) => KIND_TITLE[k]) },
          y: { field: 'mb', type: 'quantitative', title: 'MB' },
          color: { field: 'kind', type: 'nominal', title: null, sort: KINDS.map((k) => KIND_TITLE[k]), scale: { range: ['#1f6fb4', '#6baed6', '#c6dbef'] }, legend: { orient: 'bottom', labelLimit: 400 } },
        },
      },
      { data: { values: [{ goal: 200 }] }, mark: { type: 'rule', color: '#d9534f', strokeDash: [4, 3] }, encoding: { y: { field: 'goal', type: 'quantitative' } } },
    ],
    config: { ...FONT, view: { stroke: '#ddd' } },
  };
}

function forksChart(r: Results): TopLevelSpec {
  const rows = r.forks.flatMap((f) =>
    f.runs.filter((x) => x.ms.length).map((x) => {
      const s = x.ms.map((m) => m / 1000);
      return { hosts: `${f.hosts} hosts`, forks: x.forks, median: median(s), min: Math.min(...s), max: Math.max(...s) };
    }),
  );
  const forks = [...new Set(rows.map((x) => x.forks))].sort((a, b) => a - b);
  const x = { field: 'forks', type: 'quantitative' as const, title: '--forks', scale: { type: 'log' as const, nice: false, padding: 12 }, axis: { values: forks, format: 'd', grid: false } };
  const color = { field: 'hosts', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'mxplay no-op against --forks', subtitle: `${r.forks[0]?.resources ?? ''} resources per host; median, bar: min–max`, anchor: 'start' },
    data: { values: rows },
    width: 300,
    height: 230,
    layer: [
      { mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color } },
      { mark: { type: 'line', point: { size: 45, filled: true } }, encoding: { x, y: { field: 'median', type: 'quantitative', title: 'seconds', scale: { zero: false } }, color } },
    ],
    config: { ...FONT, view: { stroke: '#ddd' } },
  };
}

/** Every chart the results can fill (none for an axis with a single point). */
export function charts(r: Results): Chart[] {
  const { hostsAxis, resourcesAxis } = axes(r.points);
  const out: Chart[] = [];
  if (hostsAxis.length > 1) {
    const res = hostsAxis[0]!.resources;
    out.push({
      file: 'time-vs-hosts.svg',
      title: `time against hosts (${res} resources per host)`,
      spec: timeChart(timeRows(hostsAxis, (p) => p.hosts), 'hosts', 'Time against hosts', `${res} resources per host; whole process, spawn to exit`),
    });
  }
  if (resourcesAxis.length > 1) {
    const h = resourcesAxis[0]!.hosts;
    out.push({
      file: 'time-vs-resources.svg',
      title: `time against resources per host (${h} host${h === 1 ? '' : 's'})`,
      spec: timeChart(timeRows(resourcesAxis, (p) => p.resources), 'resources per host', 'Time against resources per host', `${h} host${h === 1 ? '' : 's'}; whole process, spawn to exit`),
    });
  }
  if (r.points.some((p) => Object.keys(p.rssKb).length)) out.push({ file: 'rss.svg', title: 'mxplay peak RSS', spec: rssChart(r) });
  if (r.forks.some((f) => f.runs.some((x) => x.ms.length))) out.push({ file: 'forks.svg', title: 'no-op against --forks', spec: forksChart(r) });
  return out;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes DIR/charts/*.svg; returns the charts written. */
export async function writeCharts(r: Results, outDir: string): Promise<Chart[]> {
  const dir = join(outDir, 'charts');
  mkdirSync(dir, { recursive: true });
  const list = charts(r);
  for (const c of list) writeFileSync(join(dir, c.file), `${await renderSvg(c.spec)}\n`);
  return list;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: BENCH } } });
  const out = resolve(values.out!);
  const list = await writeCharts(loadResults(join(out, 'results.json')), out);
  process.stderr.write(`wrote ${list.map((c) => join(out, 'charts', c.file)).join(', ') || 'no charts (no axis has two points)'}\n`);
}
