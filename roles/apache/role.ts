import { defineRole, z, apt, command, link, directory, template, service, UserError, type TaskContext } from 'mxplay';
import {
  proxyVars, tlsChoice, tlsChoiceMessage, site, selfSignedCertificate, wellKnownFiles, wellKnownDirectory,
  afterInstall, generation, readiness, WELL_KNOWN_DIR, proxyWorkerRoutes, serverAddress,
  jitsiChoice, jitsiChoiceMessage, jitsiVhost, baseDomainCheck, sharedCaCheck, acmeNamesCheck,
} from '../nginx/proxy.ts';
import { acmeBootstrap, acmeIssue, acmeWebroot } from '../nginx/acme.ts';
import { templateEncoders, webAppDomainsCheck, webAppSites } from '../nginx/web-apps.ts';
import { proxyChecks } from '../nginx/verify.ts';
import { APACHE_FILES, replacedFiles, replacedFilesVar, replacedFilesCheck } from '../nginx/replaced-files.ts';

const CHECK = 'apache2ctl configtest';
const RELOAD = 'reload apache';
const MODULES = ['proxy', 'proxy_http', 'headers', 'ssl', 'rewrite'];
/** Spreading a request group over several workers. */
const BALANCER_MODULES = ['proxy_balancer', 'lbmethod_byrequests', 'slotmem_shm'];

export default defineRole({
  name: 'apache',
  description: 'Apache httpd in front of Synapse: TLS, /_matrix and /_synapse/client, .well-known delegation',
  vars: z.object({
    ...proxyVars,
    // Per role, not in proxyVars: each role refuses paths outside its own folder.
    proxy_replaced_files: replacedFilesVar,
    apache_vhost_extra: z.string().default('')
      .describe('raw Apache config, by design: directives placed verbatim (not quoted or checked by mxplay) in the Matrix <VirtualHost>; whoever writes it writes config. apache2ctl configtest checks it before any reload'),
  }).refine(tlsChoice, tlsChoiceMessage).refine(jitsiChoice, jitsiChoiceMessage).superRefine(webAppDomainsCheck).superRefine(baseDomainCheck).superRefine(sharedCaCheck).superRefine(acmeNamesCheck).superRefine(replacedFilesCheck(APACHE_FILES)),
  tasks: (v, ctx) => {
    const s = site(v);
    const routes = apacheRoutes(v, ctx);
    const gen = generation('apache', import.meta.url, v, routes);
    const modules = routes.some((r) => r.servers.length > 1) ? [...MODULES, ...BALANCER_MODULES] : MODULES;
    return [
      apt({ names: ['apache2', ...(v.proxy_tls_self_signed || v.proxy_acme ? ['openssl'] : []), ...(v.proxy_acme ? ['certbot'] : [])] }),
      v.proxy_tls_self_signed && selfSignedCertificate(s, ctx.host, RELOAD),
      v.proxy_acme && acmeBootstrap(s.names),
      // Modules before the config that uses them (configtest knows no ProxyPass without mod_proxy).
      command({
        name: `a2enmod ${modules.join(' ')}`,
        unless: `for m in ${modules.join(' ')}; do [ -e /etc/apache2/mods-enabled/$m.load ] || exit 1; done`,
        cmd: `a2enmod -q ${modules.join(' ')}`,
        notify: RELOAD,
      }),
      // The distro's default site would answer on port 80 for every name.
      afterInstall('/usr/sbin/apache2', 'apache2', link({ path: '/etc/apache2/sites-enabled/000-default.conf', target: '', state: 'absent', notify: RELOAD })),
      acmeWebroot(v) && directory({ path: acmeWebroot(v), mode: 0o755 }),
      wellKnownDirectory(),
      // One validation set: every file below is written, configtest checks them together, and a
      // failure restores them all; Apache is reloaded only after a passing check. The site is a
      // file in sites-enabled itself (not a2ensite's symlink) so that a failed first run leaves
      // no link to a removed file behind.
      wellKnownFiles(s, CHECK, RELOAD),
      template({
        path: '/etc/apache2/sites-enabled/mxplay-matrix.conf',
        src: 'matrix.conf.ejs',
        data: {
          site: s,
          gen,
          wellKnownDir: WELL_KNOWN_DIR,
          acmeWebroot: acmeWebroot(v),
          workerRoutes: routes,
          serverAddress,
          ...templateEncoders,
        },
        validate: CHECK,
        notify: RELOAD,
      }),
      // Hand-written sites this one replaces: gone in the same checked set.
      replacedFiles(v.proxy_replaced_files, CHECK, RELOAD),
      // Element web and synapse-admin, each on its own name (same validation set).
      webAppSites('/etc/apache2/sites-enabled', s, v, { validate: CHECK, notify: RELOAD }),
      jitsiVhost(s, '/etc/apache2/sites-enabled/mxplay-web-jitsi.conf', CHECK, RELOAD),
      service({ name: 'apache2', enabled: true, state: 'started', ready: readiness(v.proxy_ready_port, gen) }),
      v.proxy_acme && acmeIssue({ role: 'apache', unit: 'apache2', names: s.names, acme: v.proxy_acme, webroot: acmeWebroot(v) }),
    ];
  },
  verify: (v) => proxyChecks(v, 'apache'),
  ports: (v) => [
    { protocol: 'tcp', port: 80, why: 'HTTP: ACME and the redirect to https' },
    { protocol: 'tcp', port: 443, why: 'HTTPS: clients, and federation through .well-known' },
    ...(v.proxy_federation_port === 8448 ? [{ protocol: 'tcp' as const, port: 8448, why: 'Matrix federation' }] : []),
  ],
  handlers: (v, ctx) => {
    const routes = apacheRoutes(v, ctx);
    return { [RELOAD]: service.reload('apache2', readiness(v.proxy_ready_port, generation('apache', import.meta.url, v, routes))) };
  },
});

/**
 * The workers' routes, as Apache can serve them: its balancer spreads requests round robin or by
 * cookie, never by a hash of the access token or the client address, so a group that must stay on
 * one worker per user (sync) or per sending server (federation) may have only one worker here.
 */
function apacheRoutes(v: { synapse_main_host?: string }, ctx: TaskContext) {
  const routes = proxyWorkerRoutes(v, ctx);
  for (const r of routes) {
    if (r.balance !== 'round_robin' && r.servers.length > 1) {
      throw new UserError(
        `${r.upstream.replace('mxplay_synapse_', '')} has ${r.servers.length} workers, but Apache cannot keep ${r.balance === 'user' ? "one user's requests" : "one server's transactions"} on one of them: ` +
          'serve that group with one worker behind Apache, or use the nginx role (it hashes by user or by address)',
        { host: ctx.host, key: 'synapse_workers' },
      );
    }
  }
  return routes;
}
