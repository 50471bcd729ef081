import { stringify } from 'yaml';
import { file, type FileOptions } from './file.ts';
import type { Resource } from './types.ts';

export interface YamlOptions extends Omit<FileOptions, 'content' | 'kind'> {
  data: unknown;
  /** A first comment line, e.g. who owns the file. */
  header?: string;
}

/** Data rendered as YAML with sorted keys: the same data always gives the same bytes. */
export function toYaml(data: unknown, header?: string): string {
  const body = stringify(data, { sortMapEntries: true, lineWidth: 0 });
  return header ? `# ${header}\n${body}` : body;
}

export function yamlFile(o: YamlOptions): Resource {
  const { data, header, ...rest } = o;
  return file({ ...rest, content: toYaml(data, header), kind: 'yaml' });
}
