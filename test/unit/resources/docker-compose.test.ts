import { describe, expect, it } from 'vitest';
import { dockerComposeProbe, planDockerCompose, type DockerComposeState } from '../../../src/resources/docker-compose.ts';
import { expectPlan, fakeBin, sh, tempDir, type Expected } from '../helpers.ts';

const D = '/srv/jitsi';
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** want: service → hash; have: "service state hash" per container. */
const st = (want: Record<string, string>, have: string[]): DockerComposeState => ({
  want: b64(Object.entries(want).map(([s, h]) => `${s} ${h}\n`).join('')),
  have: b64(have.map((l) => `${l}\n`).join('')),
});
const WANT = { web: 'h1', prosody: 'h2', jvb: 'h3' };
const UP = `cd ${D}\ndocker compose up -d --remove-orphans --wait --wait-timeout 120`;

describe('planDockerCompose', () => {
  const rows: { name: string; s: DockerComposeState; want: Expected }[] = [
    { name: 'every service running with the current config: no-op', s: st(WANT, ['web running h1', 'prosody running h2', 'jvb running h3']), want: null },
    { name: 'no container yet: create all, sorted', s: st(WANT, []), want: { action: '+', summary: 'up: create jvb, prosody, web', has: [UP] } },
    { name: 'one config hash differs: recreate only that one', s: st(WANT, ['web running h1', 'prosody running h2', 'jvb running old']), want: { action: '~', summary: 'up: recreate jvb', has: [UP] } },
    { name: 'one stopped: start it', s: st(WANT, ['web exited h1', 'prosody running h2', 'jvb running h3']), want: { action: '~', summary: 'up: start web' } },
    { name: 'one removed by hand: create it', s: st(WANT, ['web running h1', 'prosody running h2']), want: { action: '~', summary: 'up: create jvb' } },
    { name: 'a container of a service no longer in the file: removed', s: st(WANT, ['web running h1', 'prosody running h2', 'jvb running h3', 'old running h9']), want: { action: '~', summary: 'up: remove orphans old' } },
    { name: 'several reasons in one up', s: st(WANT, ['web exited h1', 'jvb running old']), want: { action: '~', summary: 'up: create prosody; recreate jvb; start web' } },
    { name: 'a scaled service: any stale container recreates it', s: st({ jvb: 'h3' }, ['jvb running h3', 'jvb running old']), want: { action: '~', summary: 'up: recreate jvb' } },
    { name: 'docker compose not installed: known after its package', s: { missing: 'docker compose' }, want: { unresolved: 'docker compose is not installed yet' } },
    { name: 'no project folder yet', s: { missing: 'dir' }, want: { unresolved: `${D} does not exist yet` } },
    { name: "a file compose rejects: unresolved with compose's words", s: { invalid: b64("service \"jvb\" refers to undefined network nope\n") }, want: { unresolved: 'docker compose config fails in /srv/jitsi: service "jvb" refers to undefined network nope' } },
    { name: 'daemon down: unresolved (the docker service may start it)', s: { daemon: b64('Cannot connect to the Docker daemon\n') }, want: { unresolved: 'docker does not answer: Cannot connect to the Docker daemon' } },
  ];
  it.each(rows)('$name', ({ s, want }) => expectPlan(planDockerCompose({ dir: D }, s), want));

  it('waits as long as asked', () => {
    expectPlan(planDockerCompose({ dir: D, wait_timeout_s: 300 }, st(WANT, [])), { action: '+', summary: /create/, has: ['--wait --wait-timeout 300'] });
  });
});

describe('dockerComposeProbe, run with a fake docker', () => {
  const probe = (dir: string, docker: string) => {
    const r = sh(dockerComposeProbe(dir), { fakeBin: fakeBin({ docker }) });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as DockerComposeState;
  };
  const docker = (o: { config?: string; ps?: string }) => [
    'case "$1 $2" in',
    '  "compose version") echo "Docker Compose version 2.40.3" ;;',
    `  "compose config") ${o.config ?? 'printf "web h1\\njvb h2\\n"; echo "WARN something" >&2'} ;;`,
    `  "compose ps") ${o.ps ?? 'printf "web running h1\\n"'} ;;`,
    'esac',
  ].join('\n');

  it('prints the hashes compose wants and what runs, from the project folder (warnings left out)', () => {
    const dir = tempDir();
    const s = probe(dir, docker({ ps: `[ "$PWD" = "${dir}" ] || exit 9; printf "web running h1\\n"` })) as { want: string; have: string };
    expect(Buffer.from(s.want, 'base64').toString()).toBe('web h1\njvb h2');
    expect(Buffer.from(s.have, 'base64').toString()).toBe('web running h1');
    expectPlan(planDockerCompose({ dir }, s), { action: '~', summary: 'up: create jvb' });
  });

  it("carries compose's complaint about the files", () => {
    const s = probe(tempDir(), docker({ config: 'echo "yaml: line 3: did not find expected key" >&2; exit 15' }));
    expect(planDockerCompose({ dir: D }, s)).toEqual({ unresolved: 'docker compose config fails in /srv/jitsi: yaml: line 3: did not find expected key' });
  });

  it('a daemon that does not answer', () => {
    const s = probe(tempDir(), docker({ ps: 'echo "Cannot connect to the Docker daemon at unix:///run/docker.sock" >&2; exit 1' }));
    expect(s).toHaveProperty('daemon');
  });

  it('no compose plugin, no folder', () => {
    expect(probe(tempDir(), 'exit 1')).toEqual({ missing: 'docker compose' });
    expect(probe(`${tempDir()}/nope`, docker({}))).toEqual({ missing: 'dir' });
  });
});
