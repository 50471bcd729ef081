// What the floor (floor.ts) is given: per host, the wanted bytes of every file, rendered here once
// with ejs exactly as mxplay's template resource renders them, and the directories, packages,
// users, command and handlers of the workload at one scale.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import type { FloorFile, FloorSpec } from './floor.ts';
import type { BenchLab } from './hosts.ts';
import { BENCH } from './proc.ts';
import {
  BENCH_VARS, DIRECTORIES, GUARDED, HANDLERS, LINE_EDIT, PACKAGES, TEMPLATES, TENANT_USER_SHELL, TENANTS_VAR,
  lineEditContent, tenantResources,
} from './workload.ts';

export type Vars = typeof BENCH_VARS;

const TEMPLATE_DIR = join(BENCH, 'roles/benchconf/templates');
const compiled = new Map<string, ejs.TemplateFunction>();

function renderTemplate(name: string, data: Record<string, unknown>): string {
  let fn = compiled.get(name);
  if (!fn) {
    const path = join(TEMPLATE_DIR, `${name}.ejs`);
    fn = ejs.compile(readFileSync(path, 'utf8'), { filename: path, strict: false, escape: (s: unknown) => String(s) });
    compiled.set(name, fn);
  }
  return fn(data);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function render(host: string, vars: Vars, tenants: number): FloorFile[] {
  const base = { ...vars, [TENANTS_VAR]: tenants, host };
  const files: { path: string; text: string; mode: number; group: string; notify?: string }[] = TEMPLATES.map((t) => ({
    path: t.dest,
    text: renderTemplate(t.name, base),
    mode: t.mode,
    group: t.group ?? 'root',
    notify: t.notify,
  }));
  files.push({ path: LINE_EDIT.path, text: lineEditContent(vars.bench_workers), mode: 0o644, group: 'root' });
  for (const f of tenantResources(tenants).files) {
    files.push({ path: f.dest, text: renderTemplate(f.src, { ...base, ...f.data }), mode: f.mode, group: 'root' });
  }
  return files.map((f) => ({
    path: f.path,
    content: Buffer.from(f.text).toString('base64'),
    sha: sha256(f.text),
    mode: f.mode,
    owner: 'root',
    group: f.group,
    ...(f.notify ? { notify: f.notify } : {}),
  }));
}

export function floorSpec(lab: BenchLab, hosts: string[], vars: Vars, tenants: number): FloorSpec {
  const t = tenantResources(tenants);
  return {
    user: 'root',
    keyFile: lab.keyFile,
    knownHostsFile: lab.knownHostsFile,
    dirs: [...DIRECTORIES, ...t.dirs].map((d) => ({ path: d.path, mode: d.mode, owner: 'root', group: d.group ?? 'root' })),
    packages: PACKAGES,
    users: t.users.map((name) => ({ name, shell: TENANT_USER_SHELL })),
    command: GUARDED,
    handlers: Object.fromEntries(
      HANDLERS.map((h) => [h.name, `systemctl ${h.state === 'reloaded' ? 'reload' : 'restart'} ${h.service}`]),
    ),
    hosts: hosts.map((name) => ({ name, ip: lab.host(name).ip, files: render(name, vars, tenants) })),
  };
}

export function writeFloorSpec(path: string, spec: FloorSpec): string {
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

/** floor.ts as one ESM file, like mxplay's bundle: node-ssh stays a package (ssh2 has add-ons). */
export async function bundleFloor(outDir: string): Promise<string> {
  const { build } = await import('esbuild');
  const out = join(outDir, 'floor.mjs');
  await build({
    entryPoints: [join(BENCH, 'floor.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['node-ssh', 'ssh2', 'cpu-features'],
    logLevel: 'warning',
  });
  return out;
}
