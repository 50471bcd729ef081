// The order vitest starts test files in. With three workers and e2e files of 1 to 8 minutes, the
// run ends when the last long file ends: longest first, so short ones fill the gaps at the end.
// vitest's own BaseSequencer orders by file size when it has no timings (a fresh clone, CI).
import { relative, sep } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import table from './durations.json' with { type: 'json' };

export interface FileToOrder {
  /** vitest's project name ('unit', 'e2e') */
  project: string;
  /** relative to the repository, with forward slashes: the key of durations.json */
  file: string;
}

export interface CachedResult { duration: number; failed: boolean }

/** Files of projects other than these run after them: quick unit files fill the workers' gaps at the end. */
const FIRST_PROJECTS = ['e2e'];

/**
 * Expected milliseconds: vitest's timing of the file's last passing run; else the committed table;
 * else unknown, counted as long (a new e2e file usually is). A failed run's timing may be of a file
 * that stopped early: not trusted.
 */
export function expectedMs(f: FileToOrder, cached: CachedResult | undefined, seconds: Record<string, unknown>): number {
  if (cached && !cached.failed) return cached.duration;
  const s = seconds[f.file];
  return typeof s === 'number' ? s * 1000 : Number.POSITIVE_INFINITY;
}

/** The files in start order: first projects before the others, each longest first, ties by name. */
export function orderFiles<T extends FileToOrder>(files: T[], cached: (f: T) => CachedResult | undefined, seconds: Record<string, unknown>): T[] {
  const rank = (f: T) => (FIRST_PROJECTS.includes(f.project) ? 0 : 1);
  const ms = new Map(files.map((f) => [f, expectedMs(f, cached(f), seconds)]));
  return [...files].sort((a, b) => rank(a) - rank(b) || ms.get(b)! - ms.get(a)! || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export default class DurationSequencer extends BaseSequencer {
  override async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
    const { root } = this.ctx.config;
    const files = specs.map((spec) => ({ spec, project: spec.project.name, file: relative(root, spec.moduleId).split(sep).join('/') }));
    // vitest's cache key for a file's last result: "project:relative/path".
    const ordered = orderFiles(files, (f) => this.ctx.cache.getFileTestResults(`${f.project}:${f.file}`), table);
    return ordered.map((f) => f.spec);
  }
}
