// The files of the Jitsi compose project, as pure functions of the role's settings: the compose
// file (structure, one block per service) and its .env (the values, secrets included). Each
// service is given only the variables it reads, so a value that one service uses changes only
// that service's configuration and `docker compose up` recreates only that container.

import { envValue } from 'mxplay';

export const SERVICES = ['web', 'prosody', 'jicofo', 'jvb'] as const;
export type Service = (typeof SERVICES)[number];

/** The images' unprivileged user (uid 1000 from stable-11146 on): it writes the storage folders. */
export const CONTAINER_UID = '1000';

/** Network of the services; prosody is reachable on it as xmpp.meet.jitsi, the images' default. */
const NETWORK = 'meet.jitsi';

export interface JitsiSettings {
  jitsi_domain: string;
  jitsi_compose_project: string;
  jitsi_image_repo: string;
  jitsi_image_tag: string;
  jitsi_pull_policy: string;
  jitsi_http_bind: string;
  jitsi_http_port: number;
  jitsi_web_internal_port: number;
  jitsi_jvb_port: number;
  jitsi_jvb_advertise_ips: string[];
  jitsi_timezone: string;
  jitsi_service_env: Partial<Record<Service, Record<string, string>>>;
  jitsi_service_options: Partial<Record<Service, Record<string, unknown>>>;
}

export interface JitsiPasswords {
  jicofo: string;
  jvb: string;
}

/** CONFIG's folders: read-only config for each service, and storage the containers write. */
export function configFolders(config: string): { path: string; mode: number; owner?: string }[] {
  const ro = ['', '/web', '/prosody', '/prosody/config', '/prosody/prosody-plugins-custom', '/jicofo', '/jvb', '/storage'];
  const rw = ['/storage/web', '/storage/prosody', '/storage/transcripts'];
  return [
    ...ro.map((p) => ({ path: `${config}${p}`, mode: 0o755 })),
    ...rw.map((p) => ({ path: `${config}${p}`, mode: 0o750, owner: CONTAINER_UID })),
  ];
}

/**
 * A password the images can use: jicofo's image writes it between double quotes of its HOCON
 * config (password = "..."), unescaped. (.env itself holds any value but a NUL: see envValue.)
 */
export const passwordSafe = (s: string) => !/["'\\\0\n\r]/.test(s);

/** The .env beside the compose file: every value the services get from the role. */
export function envFile(v: JitsiSettings, config: string, pw: JitsiPasswords): string {
  const values: [string, string | number][] = [
    ['CONFIG', config],
    ['JITSI_IMAGE_REPO', v.jitsi_image_repo],
    ['JITSI_IMAGE_VERSION', v.jitsi_image_tag],
    ['JITSI_PULL_POLICY', v.jitsi_pull_policy],
    ['PUBLIC_URL', `https://${v.jitsi_domain}`],
    ['TZ', v.jitsi_timezone],
    ['HTTP_BIND', v.jitsi_http_bind],
    ['HTTP_PORT', v.jitsi_http_port],
    ['JVB_PORT', v.jitsi_jvb_port],
    ['JVB_ADVERTISE_IPS', v.jitsi_jvb_advertise_ips.join(',')],
    ['JICOFO_AUTH_PASSWORD', pw.jicofo],
    ['JVB_AUTH_PASSWORD', pw.jvb],
  ];
  return [
    '# Managed by mxplay, role jitsi: values for docker-compose.yml beside it. Local edits are overwritten.',
    ...values.map(([k, val]) => {
      try {
        return `${k}=${envValue(String(val))}`;
      } catch (e) {
        throw new Error(`${k}: ${(e as Error).message}`);
      }
    }),
    '',
  ].join('\n');
}

/** `${NAME}`, required: `docker compose config` fails when .env lacks it. */
const env = (name: string) => `\${${name}:?missing in .env}`;

/** Which .env values each service reads, and fixed settings that belong to this setup. */
const SERVICE_ENV: Record<Service, Record<string, string>> = {
  web: {
    PUBLIC_URL: env('PUBLIC_URL'),
    // TLS ends at the reverse proxy in front (roles nginx/apache), which also redirects HTTP.
    DISABLE_HTTPS: '1',
    ENABLE_HTTP_REDIRECT: '0',
    ENABLE_LETSENCRYPT: '0',
  },
  prosody: {
    PUBLIC_URL: env('PUBLIC_URL'),
    JICOFO_AUTH_PASSWORD: env('JICOFO_AUTH_PASSWORD'),
    JVB_AUTH_PASSWORD: env('JVB_AUTH_PASSWORD'),
  },
  jicofo: {
    JICOFO_AUTH_PASSWORD: env('JICOFO_AUTH_PASSWORD'),
  },
  jvb: {
    JVB_AUTH_PASSWORD: env('JVB_AUTH_PASSWORD'),
    JVB_PORT: env('JVB_PORT'),
    JVB_ADVERTISE_IPS: '${JVB_ADVERTISE_IPS:-}',
  },
};

const VOLUMES: Record<Service, string[]> = {
  web: [`${env('CONFIG')}/web:/config`, `${env('CONFIG')}/storage/web:/storage`, `${env('CONFIG')}/storage/transcripts:/usr/share/jitsi-meet/transcripts:ro`],
  prosody: [`${env('CONFIG')}/prosody/config:/config`, `${env('CONFIG')}/prosody/prosody-plugins-custom:/prosody-plugins-custom`, `${env('CONFIG')}/storage/prosody:/var/lib/prosody`],
  jicofo: [`${env('CONFIG')}/jicofo:/config`],
  jvb: [`${env('CONFIG')}/jvb:/config`],
};

const DEPENDS_ON: Record<Service, Service[]> = { web: ['jvb'], prosody: [], jicofo: ['prosody'], jvb: ['prosody'] };

/** Compose interpolates `$` in values; a literal one is written `$$`. */
const literal = (s: string) => s.replaceAll('$', '$$$$');

function service(v: JitsiSettings, name: Service): Record<string, unknown> {
  const ports = {
    web: [`\${HTTP_BIND:?missing in .env}:${env('HTTP_PORT')}:${v.jitsi_web_internal_port}`],
    jvb: [`${env('JVB_PORT')}:${env('JVB_PORT')}/udp`],
  } as Partial<Record<Service, string[]>>;
  const userEnv = Object.fromEntries(Object.entries(v.jitsi_service_env[name] ?? {}).map(([k, val]) => [k, literal(val)]));
  return {
    image: `${env('JITSI_IMAGE_REPO')}/${name}:${env('JITSI_IMAGE_VERSION')}`,
    pull_policy: env('JITSI_PULL_POLICY'),
    restart: 'unless-stopped',
    // The images run read-only with their runtime state in memory.
    read_only: true,
    tmpfs: ['/run:size=16M,mode=1750,exec', '/tmp:size=16M,mode=1777,noexec'],
    ...(ports[name] ? { ports: ports[name] } : {}),
    volumes: VOLUMES[name],
    environment: { TZ: env('TZ'), ...SERVICE_ENV[name], ...userEnv },
    ...(DEPENDS_ON[name].length ? { depends_on: DEPENDS_ON[name] } : {}),
    networks: name === 'prosody' ? { [NETWORK]: { aliases: ['xmpp.meet.jitsi'] } } : [NETWORK],
    ...v.jitsi_service_options[name],
  };
}

/** docker-compose.yml as data (written as YAML with sorted keys). */
export function composeFile(v: JitsiSettings): Record<string, unknown> {
  return {
    name: v.jitsi_compose_project,
    services: Object.fromEntries(SERVICES.map((s) => [s, service(v, s)])),
    networks: { [NETWORK]: {} },
  };
}
