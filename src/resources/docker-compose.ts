import { q } from './sh.ts';
import { common, type PlanResult, type Resource, type ResourceCommon } from './types.ts';

export interface DockerComposeOptions extends ResourceCommon {
  /** Folder of the compose project: its compose file and .env (docker compose runs there). */
  dir: string;
  /** Seconds `up --wait` waits for the containers to run (healthy, for those with a healthcheck). */
  wait_timeout_s?: number;
}

/**
 * What the probe saw. `want`: `docker compose config --hash '*'` (one "service hash" per line, the
 * hash compose also labels each container with); `have`: one "service state hash" line per
 * container of the project. Both base64, so any output survives the JSON line.
 */
export type DockerComposeState =
  | { missing: 'docker compose' | 'dir' }
  | { invalid: string }
  | { daemon: string }
  | { want: string; have: string };

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** The first lines of a tool's complaint, short enough for a plan. */
function firstLines(b64: string): string {
  return lines(decode(b64)).slice(0, 3).join('; ').slice(0, 300);
}

export function upScript(o: DockerComposeOptions): string {
  return `cd ${q(o.dir)}\ndocker compose up -d --remove-orphans --wait --wait-timeout ${o.wait_timeout_s ?? 120}`;
}

/**
 * Every service has a running container whose config hash is the one the compose file and .env
 * give now; otherwise `up -d`, which creates, starts or recreates exactly the services that differ
 * (and removes containers of services no longer in the file).
 */
export function planDockerCompose(o: DockerComposeOptions, s: DockerComposeState): PlanResult {
  if ('missing' in s) return { unresolved: s.missing === 'dir' ? `${o.dir} does not exist yet` : 'docker compose is not installed yet' };
  if ('invalid' in s) return { unresolved: `docker compose config fails in ${o.dir}: ${firstLines(s.invalid)}` };
  if ('daemon' in s) return { unresolved: `docker does not answer: ${firstLines(s.daemon)}` };

  const want = new Map(lines(decode(s.want)).map((l) => l.split(/\s+/) as [string, string]));
  const have = new Map<string, { state: string; hash: string }[]>();
  for (const l of lines(decode(s.have))) {
    const [service, state = '', hash = ''] = l.split(/\s+/);
    have.set(service!, [...(have.get(service!) ?? []), { state, hash }]);
  }
  const create: string[] = [];
  const recreate: string[] = [];
  const start: string[] = [];
  for (const [service, hash] of [...want].sort(([a], [b]) => a.localeCompare(b))) {
    const cs = have.get(service);
    if (!cs) create.push(service);
    else if (cs.some((c) => c.hash !== hash)) recreate.push(service);
    else if (cs.some((c) => c.state !== 'running')) start.push(service);
  }
  const orphans = [...have.keys()].filter((n) => !want.has(n)).sort();
  const parts = [
    create.length && `create ${create.join(', ')}`,
    recreate.length && `recreate ${recreate.join(', ')}`,
    start.length && `start ${start.join(', ')}`,
    orphans.length && `remove orphans ${orphans.join(', ')}`,
  ].filter(Boolean);
  if (!parts.length) return null;
  return { action: have.size === 0 ? '+' : '~', summary: `up: ${parts.join('; ')}`, script: upScript(o) };
}

export function dockerComposeProbe(dir: string): string {
  const b64 = (v: string) => `"$(printf '%s' "${v}" | base64 -w0)"`;
  return [
    'e=$(mktemp)',
    `if ! docker compose version >/dev/null 2>&1; then echo '{"missing":"docker compose"}'`,
    `elif ! cd ${q(dir)} 2>/dev/null; then echo '{"missing":"dir"}'`,
    // stderr kept apart: warnings there must not mix with the service lines.
    `elif ! w=$(docker compose config --hash '*' 2>"$e"); then printf '{"invalid":"%s"}\\n' ${b64('$(cat "$e")')}`,
    `elif ! h=$(docker compose ps -a --format '{{.Service}} {{.State}} {{.Label "com.docker.compose.config-hash"}}' 2>"$e"); then printf '{"daemon":"%s"}\\n' ${b64('$(cat "$e")')}`,
    `else printf '{"want":"%s","have":"%s"}\\n' ${b64('$w')} ${b64('$h')}; fi`,
    'rm -f "$e"',
  ].join('\n');
}

/**
 * A compose project that is up and current: every service runs with the configuration its files
 * give now. Also the handler to notify when those files change (it then recreates only the
 * services whose configuration changed, and does nothing when none did).
 */
export function dockerCompose(o: DockerComposeOptions): Resource<DockerComposeState> {
  return { type: 'docker_compose', id: o.dir, probe: dockerComposeProbe(o.dir), plan: (s) => planDockerCompose(o, s), ...common(o) };
}
