import { file } from './file.ts';
import { APT_UPDATE_MARKER } from './apt.ts';
import type { Resource, ResourceCommon } from './types.ts';

export interface AptSourceOptions extends ResourceCommon {
  /** File stem: /etc/apt/sources.list.d/<name>.sources and /etc/apt/keyrings/<name>.asc */
  name: string;
  uris: string;
  suites: string;
  components: string;
  /** ASCII-armoured signing key; the source only trusts this key. */
  key: string;
  architectures?: string;
  state?: 'present' | 'absent';
}

const MARK_STALE = `mkdir -p /var/lib/mxplay && : > ${APT_UPDATE_MARKER}`;

export function aptSourceText(o: AptSourceOptions): string {
  return [
    `Types: deb`,
    `URIs: ${o.uris}`,
    `Suites: ${o.suites}`,
    `Components: ${o.components}`,
    ...(o.architectures ? [`Architectures: ${o.architectures}`] : []),
    `Signed-By: /etc/apt/keyrings/${o.name}.asc`,
    '',
  ].join('\n');
}

/** A deb822 source with its own keyring (no apt-key); a change marks the package lists stale. */
export function aptSource(o: AptSourceOptions): Resource[] {
  const state = o.state ?? 'present';
  const shared = { state, onChange: MARK_STALE, tags: o.tags, notify: o.notify };
  return [
    file({ ...shared, path: `/etc/apt/keyrings/${o.name}.asc`, content: o.key.trimEnd() + '\n', kind: 'apt key' }),
    file({ ...shared, path: `/etc/apt/sources.list.d/${o.name}.sources`, content: aptSourceText(o), kind: 'apt source' }),
  ];
}
