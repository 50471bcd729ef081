import { defineRole, z, secret, apt, service, directory, file, yamlFile, dockerCompose, absolutePath, hostName, ipAddress, port } from 'mxplay';
import { SERVICES, composeFile, configFolders, envFile, passwordSafe } from './compose.ts';
import { jitsiSharedVars } from './shared.ts';

const UP = 'docker compose up jitsi';
const path = absolutePath;
const timeZone = z.string().regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, 'a time zone like Europe/Berlin or UTC');
const PASSWORD_MESSAGE = 'no quote, backslash or line break (jicofo writes it into a quoted string of its config)';
const perService = <T extends z.ZodType>(t: T) => z.partialRecord(z.enum(SERVICES), t).default({});

export default defineRole({
  name: 'jitsi',
  description: 'Jitsi Meet (web, prosody, jicofo, jvb) with Docker Compose from Debian, behind the nginx or apache role',
  vars: z.object({
    jitsi_domain: hostName('meet.example.com').describe('public host name of Jitsi Meet: PUBLIC_URL is https://<jitsi_domain>; also what Element is told (.well-known)'),
    jitsi_dir: path.default('/srv/jitsi').describe('folder of the compose project: docker-compose.yml and .env'),
    jitsi_config_dir: path.optional().describe("CONFIG: the containers' config and storage folders; default <jitsi_dir>/config"),
    jitsi_compose_project: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, _ and -').default('jitsi')
      .describe('compose project name (prefix of the container names)'),
    jitsi_image_repo: z.string().regex(/^[a-z0-9.:/_-]+$/, 'an image repository like ghcr.io/jitsi').default('ghcr.io/jitsi')
      .describe('registry and namespace of the images <repo>/{web,prosody,jicofo,jvb}'),
    jitsi_image_tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'an image tag').default('stable-11146-2')
      .describe('tag of all four images (one Jitsi release)'),
    jitsi_pull_policy: z.enum(['always', 'missing', 'never', 'daily', 'weekly']).default('missing')
      .describe('compose pull_policy: missing pulls an image only when it is not on the host; never uses local images only'),
    jitsi_http_bind: ipAddress.default('127.0.0.1')
      .describe("address the web container's HTTP port is published on (loopback: only the proxy on this host reaches it)"),
    ...jitsiSharedVars,
    jitsi_web_internal_port: port.default(8000)
      .describe('port the web container listens on inside (8000 from stable-11146 on, 80 before)'),
    jitsi_jvb_port: port.default(10000).describe('UDP port of the video bridge, published on all addresses (open it in the firewall)'),
    jitsi_jvb_advertise_ips: z.array(ipAddress).default([])
      .describe('addresses the bridge announces to clients (JVB_ADVERTISE_IPS): the public address when the host is behind NAT'),
    jitsi_timezone: timeZone.default('UTC').describe('TZ of the containers'),
    jitsi_jicofo_auth_password: secret().refine(passwordSafe, PASSWORD_MESSAGE).optional()
      .describe("XMPP password of jicofo (JICOFO_AUTH_PASSWORD); derived from mxplay_master_secret when unset"),
    jitsi_jvb_auth_password: secret().refine(passwordSafe, PASSWORD_MESSAGE).optional()
      .describe("XMPP password of the video bridge (JVB_AUTH_PASSWORD); derived from mxplay_master_secret when unset"),
    jitsi_service_env: perService(z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'), z.string()))
      .describe("more environment variables per service, e.g. { web: { ENABLE_WELCOME_PAGE: '0' } } (see docker-jitsi-meet's env.example)"),
    jitsi_service_options: perService(z.record(z.string(), z.unknown()))
      .describe('more compose keys per service, e.g. { jvb: { mem_limit: 2g } }; checked by docker compose config before use'),
    jitsi_wait_timeout_s: z.number().int().min(1).default(120).describe('seconds `docker compose up --wait` waits for the containers to run'),
  }),
  tasks: (v, ctx) => {
    const dir = v.jitsi_dir;
    const config = v.jitsi_config_dir ?? `${dir}/config`;
    const passwords = {
      jicofo: v.jitsi_jicofo_auth_password ?? ctx.derivedSecret('jitsi_jicofo_auth_password'),
      jvb: v.jitsi_jvb_auth_password ?? ctx.derivedSecret('jitsi_jvb_auth_password'),
    };
    // The compose file and .env are one validation set: both are written, compose checks them
    // together, and a failure restores both before any container is touched.
    const check = `cd ${dir} && docker compose config -q`;
    return [
      apt({ names: ['docker.io', 'docker-compose'] }),
      service({ name: 'docker', enabled: true, state: 'started' }),
      directory({ path: dir, mode: 0o750 }),
      configFolders(config).map((f) => directory({ path: f.path, mode: f.mode, ...(f.owner ? { owner: f.owner, group: f.owner } : {}) })),
      file({ path: `${dir}/.env`, content: envFile(v, config, passwords), mode: 0o600, kind: 'env', validate: check, notify: UP }),
      yamlFile({
        path: `${dir}/docker-compose.yml`,
        data: composeFile(v),
        header: 'Managed by mxplay, role jitsi: the Jitsi Meet services; their values are in .env beside it.',
        mode: 0o644,
        validate: check,
        notify: UP,
      }),
      // Every service up with the configuration above (also after a container was removed by hand).
      dockerCompose({ dir, wait_timeout_s: v.jitsi_wait_timeout_s }),
    ];
  },
  handlers: (v) => ({ [UP]: dockerCompose({ dir: v.jitsi_dir, wait_timeout_s: v.jitsi_wait_timeout_s }) }),
  // The web port only when published beyond loopback (else only the proxy on this host reaches it).
  ports: (v) => [
    ...(/^(127\.|::1$)/.test(v.jitsi_http_bind) ? [] : [{ protocol: 'tcp' as const, port: v.jitsi_http_port, why: 'Jitsi Meet web' }]),
    { protocol: 'udp', port: v.jitsi_jvb_port, why: 'Jitsi video bridge media' },
  ],
});
