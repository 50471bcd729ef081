import { Document, visit } from 'yaml';
import { file, type FileOptions } from './file.ts';
import type { Resource } from './types.ts';

export interface YamlOptions extends Omit<FileOptions, 'content' | 'kind'> {
  data: unknown;
  /** A first comment line, e.g. who owns the file. */
  header?: string;
}

/**
 * Data rendered as YAML with sorted keys: the same data always gives the same bytes. Written for
 * YAML 1.1 readers (Synapse's PyYAML): a string such as `yes`, `on`, `0600` or `1:20` is quoted,
 * where a 1.2 writer would leave it plain for PyYAML to read as a boolean or a number. `=` and `<<`
 * are tags of their own to PyYAML (value, merge), which the writer does not know: tagged as strings.
 */
export function toYaml(data: unknown, header?: string): string {
  const doc = new Document(data, { version: '1.1', sortMapEntries: true });
  visit(doc, {
    Scalar(_key, node) {
      // PyYAML reads no tab or control character in a plain scalar, and NEL, LS, PS as line breaks.
      if (typeof node.value === 'string' && /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\t]/.test(node.value)) node.type = 'QUOTE_DOUBLE';
      if (node.value === '=' || node.value === '<<') {
        node.type = 'QUOTE_DOUBLE';
        node.tag = 'tag:yaml.org,2002:str'; // the writer prints `<<` plain whatever its type
      }
    },
  });
  // Inside those double quotes the writer leaves NEL, LS, PS and BOM raw, which a reader may fold
  // or drop: their escapes instead (any of them in the text is inside such a scalar).
  // One line per scalar (no folding of long quoted strings over several lines): a diff then shows a
  // value on one line, where masking sees it whole.
  const body = doc.toString({ lineWidth: 0, doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER }).replace(/[\x85\u2028\u2029\ufeff]/g, (c) => ({ '\x85': '\\N', '\u2028': '\\L', '\u2029': '\\P' })[c] ?? '\\uFEFF');
  return header ? `# ${header}\n${body}` : body;
}

export function yamlFile(o: YamlOptions): Resource {
  const { data, header, ...rest } = o;
  return file({ ...rest, content: toYaml(data, header), kind: 'yaml' });
}
