import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/resources/types.ts';
import { toYaml, yamlFile } from '../../../src/resources/yaml.ts';
import { heredocPayload } from '../helpers.ts';

/** What Synapse reads: Debian's PyYAML (YAML 1.1), installed by `npm test` (test/lab/tools.ts). */
function pyyaml(text: string): unknown {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe('toYaml writes what PyYAML (YAML 1.1) reads back as exactly the data', () => {
  it.each([
    ['YAML 1.1 booleans as strings', ['yes', 'no', 'on', 'Off', 'y', 'n', 'TRUE']],
    ['numbers and dates as strings', ['0600', '0x1F', '1_000', '1:20', '2024-01-02', '.inf', '~', 'null']],
    ['PyYAML tags of its own', ['=', '<<']],
    ['tabs and control characters', ['a\tb', '\tlead', 'x\x07y', 'cr\r\nlf', '\x1fend']],
    ['line and paragraph separators, NEL, BOM', ['a\u2028b', 'p\u2029q', '\x85nel', '\ufeffbom']],
    ['quotes, comments, flow and anchors', ['"q"', "'s'", '# not a comment', 'a #b', '{x: 1}', '[1]', '&a', '*a', '!tag', '%x', '@x', '`x', '- x', '? x', ': x']],
    ['several lines', ['two\nlines', 'trailing\n', '\nleading', '  indented\nx']],
    ['long values with line breaks and tabs', [`${'x'.repeat(60)}\n\t$(touch /tmp/x) '`, `a\u2028${'y'.repeat(80)}\n\nz`]],
    ['unicode', ['é☃𝄞', 'ünï']],
  ])('%s', (_n, values) => {
    const data = { list: values, map: Object.fromEntries(values.map((v, i) => [`k${i}`, v])) };
    expect(pyyaml(toYaml(data, 'header'))).toEqual(data);
  });

  it('a long quoted value stays on one line (a diff shows it whole, where masking sees it)', () => {
    expect(toYaml({ k: `${'x'.repeat(60)}\n\tend` }).split('\n')).toHaveLength(2);
  });

  it('ordinary values are written plain, as before', () => {
    expect(toYaml({ max_upload_size: '50M', notif_from: 'Chat <noreply@example.org>', port: 8008, on: true })).toBe(
      'max_upload_size: 50M\nnotif_from: Chat <noreply@example.org>\n"on": true\nport: 8008\n',
    );
  });
});

describe('yamlFile', () => {
  it('a file of the YAML of its data, under its header, typed yaml in plans', () => {
    const r = yamlFile({ path: '/etc/app.yaml', data: { b: 'yes', a: 1 }, header: 'managed by mxplay', mode: 0o640 });
    expect(r).toMatchObject({ type: 'yaml', id: '/etc/app.yaml' });
    const c = r.plan({ kind: 'none' }) as Change;
    expect(heredocPayload(c.script)).toBe('# managed by mxplay\na: 1\nb: "yes"\n');
    expect(c.summary).toMatch(/0640/);
  });
});
