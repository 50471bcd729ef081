import { defineRole, z, apt, link, directory, template, service } from 'mxplay';
import {
  proxyVars, tlsChoice, tlsChoiceMessage, site, selfSignedCertificate, wellKnownFiles, wellKnownDirectory,
  afterInstall, generation, readiness, WELL_KNOWN_DIR, proxyWorkerRoutes, serverAddress,
  jitsiChoice, jitsiChoiceMessage, jitsiVhost, baseDomainCheck, sharedCaCheck, acmeNamesCheck,
} from './proxy.ts';
import { acmeBootstrap, acmeIssue, acmeWebroot } from './acme.ts';
import { templateEncoders, webAppDomainsCheck, webAppSites } from './web-apps.ts';
import { proxyChecks } from './verify.ts';
import { NGINX_FILES, replacedFiles, replacedFilesVar, replacedFilesCheck } from './replaced-files.ts';

const CHECK = 'nginx -t';
const RELOAD = 'reload nginx';

export default defineRole({
  name: 'nginx',
  description: 'nginx in front of Synapse: TLS, /_matrix and /_synapse/client, .well-known delegation',
  vars: z.object({
    ...proxyVars,
    // Per role, not in proxyVars: each role refuses paths outside its own folder.
    proxy_replaced_files: replacedFilesVar,
    nginx_vhost_extra: z.string().default('')
      .describe('raw nginx config, by design: directives placed verbatim (not quoted or checked by mxplay) in the Matrix server block; whoever writes it writes config. nginx -t checks it before any reload'),
  }).refine(tlsChoice, tlsChoiceMessage).refine(jitsiChoice, jitsiChoiceMessage).superRefine(webAppDomainsCheck).superRefine(baseDomainCheck).superRefine(sharedCaCheck).superRefine(acmeNamesCheck).superRefine(replacedFilesCheck(NGINX_FILES)),
  tasks: (v, ctx) => {
    const s = site(v);
    const routes = proxyWorkerRoutes(v, ctx);
    const gen = generation('nginx', import.meta.url, v, routes);
    return [
      // Packages first: they create /etc/nginx and the default site removed below.
      apt({ names: ['nginx', ...(v.proxy_tls_self_signed || v.proxy_acme ? ['openssl'] : []), ...(v.proxy_acme ? ['certbot'] : [])] }),
      v.proxy_tls_self_signed && selfSignedCertificate(s, ctx.host, RELOAD),
      v.proxy_acme && acmeBootstrap(s.names),
      // The distro's default site would answer on port 80 for every name.
      afterInstall('/usr/sbin/nginx', 'nginx', link({ path: '/etc/nginx/sites-enabled/default', target: '', state: 'absent', notify: RELOAD })),
      acmeWebroot(v) && directory({ path: acmeWebroot(v), mode: 0o755 }),
      wellKnownDirectory(),
      // One validation set: every file below is written, `nginx -t` checks them together, and a
      // failure restores them all; nginx is reloaded only after a passing check.
      wellKnownFiles(s, CHECK, RELOAD),
      template({
        path: '/etc/nginx/conf.d/mxplay-matrix.conf',
        src: 'matrix.conf.ejs',
        data: { site: s, gen, wellKnownDir: WELL_KNOWN_DIR, acmeWebroot: acmeWebroot(v), workerRoutes: routes, serverAddress, ...templateEncoders },
        validate: CHECK,
        notify: RELOAD,
      }),
      // Hand-written sites this one replaces: gone in the same checked set.
      replacedFiles(v.proxy_replaced_files, CHECK, RELOAD),
      // Element web and synapse-admin, each on its own name (same validation set).
      webAppSites('/etc/nginx/conf.d', s, v, { validate: CHECK, notify: RELOAD }),
      jitsiVhost(s, '/etc/nginx/conf.d/mxplay-web-jitsi.conf', CHECK, RELOAD),
      service({ name: 'nginx', enabled: true, state: 'started', ready: readiness(v.proxy_ready_port, gen) }),
      v.proxy_acme && acmeIssue({ role: 'nginx', unit: 'nginx', names: s.names, acme: v.proxy_acme, webroot: acmeWebroot(v) }),
    ];
  },
  verify: (v) => proxyChecks(v, 'nginx'),
  ports: (v) => [
    { protocol: 'tcp', port: 80, why: 'HTTP: ACME and the redirect to https' },
    { protocol: 'tcp', port: 443, why: 'HTTPS: clients, and federation through .well-known' },
    ...(v.proxy_federation_port === 8448 ? [{ protocol: 'tcp' as const, port: 8448, why: 'Matrix federation' }] : []),
  ],
  handlers: (v, ctx) => {
    const routes = proxyWorkerRoutes(v, ctx);
    return { [RELOAD]: service.reload('nginx', readiness(v.proxy_ready_port, generation('nginx', import.meta.url, v, routes))) };
  },
});
