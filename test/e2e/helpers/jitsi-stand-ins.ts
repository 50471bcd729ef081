// Stand-ins for the Jitsi images, built on a lab host: the lab reaches no registry, so the jitsi
// role runs against images imported locally under the names its compose file uses. They are a
// few MB of busybox: `web` answers HTTP on the port the real jitsi/web listens on, echoing the
// request it got (so a test sees what the proxy forwarded) and the PUBLIC_URL it was given, and
// it accepts a websocket upgrade; the other three just keep running. All stop at once on SIGTERM.
import type { LabFixture } from '../../lab/index.ts';

export const STAND_IN_SERVICES = ['web', 'prosody', 'jicofo', 'jvb'] as const;

/** One HTTP exchange on stdin/stdout, run per connection by `busybox nc -ll -e`. */
const HTTP_HANDLER = String.raw`#!/bin/sh
IFS= read -r req
req=$(printf %s "$req" | tr -d '\r')
hdrs=
upgrade=
while IFS= read -r h; do
  h=$(printf %s "$h" | tr -d '\r')
  [ -z "$h" ] && break
  hdrs="$hdrs$h
"
  case "$h" in [Uu]pgrade:*[Ww]eb[Ss]ocket*) upgrade=1 ;; esac
done
if [ -n "$upgrade" ]; then
  printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
  printf 'stand-in jitsi/web tunnel for %s\n%s' "$req" "$hdrs"
  exit 0
fi
body=$(printf 'stand-in jitsi/web for %s\n%s\n%s' "$PUBLIC_URL" "$req" "$hdrs")
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s\n' "$(( $(printf %s "$body" | wc -c) + 1 ))" "$body"
`;

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The image's CMD as JSON, for `docker import -c`: a shell that ends its child on SIGTERM. */
function cmd(service: string, webPort: number): string {
  const work = service === 'web' ? `nc -ll -p ${webPort} -e /bin/stand-in-http` : 'while :; do sleep 1; done';
  return JSON.stringify(['/bin/sh', '-c', `${work} & trap "kill $! 2>/dev/null; exit 0" TERM; wait`]);
}

/**
 * Installs docker.io (dockerd is needed to import) and busybox-static on the host, then imports
 * REPO/{web,prosody,jicofo,jvb}:TAG. Returns the seconds it took.
 */
export async function importStandInImages(lab: LabFixture, host: string, o: { repo: string; tag: string; webPort: number }): Promise<number> {
  const t0 = Date.now();
  const script = [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null',
    'apt-get -y -q -o DPkg::Lock::Timeout=600 install docker.io busybox-static >/dev/null',
    'd=$(mktemp -d)',
    'mkdir -p "$d/bin" "$d/tmp" "$d/run"',
    'cp /bin/busybox "$d/bin/busybox"',
    'for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"; done',
    `cat > "$d/bin/stand-in-http" <<'MXP_EOF'\n${HTTP_HANDLER}MXP_EOF`,
    'chmod 755 "$d/bin/stand-in-http"',
    ...STAND_IN_SERVICES.map((s) =>
      `tar -C "$d" -c . | docker import -c 'ENV PATH=/bin' -c ${sq(`CMD ${cmd(s, o.webPort)}`)} - ${o.repo}/${s}:${o.tag} >/dev/null`),
    'rm -rf "$d"',
  ].join('\n');
  const r = await lab.ssh(host, script);
  if (r.code !== 0) throw new Error(`stand-in images on ${host} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return (Date.now() - t0) / 1000;
}
