// What the nginx and apache roles share: one set of variables (so an inventory switches proxies by
// switching the role), the .well-known documents, the self-signed certificate for labs, and the
// readiness check that knows when a reload has really taken effect.
//
// Both roles run on a host together with Synapse's variables (one flat namespace per host): they
// declare synapse_server_name, synapse_public_baseurl, synapse_http_port and synapse_max_upload_size
// with the same names and defaults as the synapse role, so one value drives both.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  z, command, directory, file, template, hostName, hostOrIp, ipOrCidr, isHostName, absolutePath, port, serverName, secret,
  type Resource, type Task, type TaskContext,
} from 'mxplay';
import { caCertificate, caFingerprint, caPem, keyProblem } from '../ca_trust/pem.ts';
import { homeserverTopology, topologyVars, workerRoutes, type WorkerRoute } from '../synapse/workers.ts';
import { jitsiSharedVars } from '../jitsi/shared.ts';
import { templateEncoders, webAppNames, webAppVars } from './web-apps.ts';
import { acmeCertPaths, acmeVar } from './acme.ts';

export const WELL_KNOWN_DIR = '/var/www/matrix-well-known';
/** Default of proxy_upstream_timeout, in seconds (see there): above Synapse's ~305 s worst case. */
export const PROXY_UPSTREAM_TIMEOUT = 330;
export const SELF_SIGNED_DIR = '/etc/ssl/mxplay-selfsigned';

export const proxyVars = {
  // Shared with the synapse role (same names, same types and defaults).
  synapse_server_name: serverName
    .describe('the server name in user IDs; its https://<name>/.well-known/matrix/* delegates to the Matrix host'),
  synapse_public_baseurl: z.url({ protocol: /^https$/ })
    .refine((u) => ['', '443'].includes(new URL(u).port), 'the proxy serves clients on port 443: no other port here')
    .refine(urlHostOk, 'its host must be a host name like matrix.example.com or an IP address: it names the virtual host')
    .describe('public URL of the client API, e.g. https://matrix.example.com/; its host name is the virtual host'),
  synapse_http_port: port.default(8008).describe("Synapse's plain HTTP listener, proxied to"),
  // The homeserver's workers, wherever they run: the proxy sends each request group to its workers.
  synapse_main_host: topologyVars.synapse_main_host,
  synapse_max_upload_size: z.string().regex(/^\d+[KMG]?$/, 'a size like 50M').default('50M')
    .describe("Synapse's upload limit; the proxy's request body limit follows it"),

  proxy_synapse_host: hostOrIp('synapse.internal').default('127.0.0.1').describe('address of Synapse as seen from the proxy'),
  // Synapse answers a client request that waits on another server (an invite, a join, a profile
  // or key query) only once its federation client gives up: with its defaults (federation:
  // client_timeout 60s, max_short_retries 3, max_short_retry_delay 2s) up to 4 attempts of 60 s
  // each plus ~5 s of back-off, and up to 60 s more to read a body: about 305 s. The proxies' own
  // 60 s would cut such a request short with a 504 of their own instead of Synapse's answer.
  proxy_upstream_timeout: z.number().int().min(1).max(86400).default(PROXY_UPSTREAM_TIMEOUT)
    .describe(`seconds the proxy waits for Synapse to answer (nginx proxy_read_timeout and proxy_send_timeout, Apache ProxyTimeout, on the Matrix virtual hosts); the default outlasts Synapse's own federation retries of a client request (4 x client_timeout 60 s + back-off + body, ~305 s), so the client gets Synapse's answer rather than the proxy's own 504 (nginx) or 502 (Apache); raise it with Synapse's federation client_timeout / max_short_retries`),
  proxy_serve_base_domain: z.boolean().default(false)
    .describe('this host also serves https://<synapse_server_name>/ (only its /.well-known/matrix/*); otherwise publish those documents on the base domain yourself (see README)'),
  proxy_federation_port: z.union([z.literal(443), z.literal(8448)]).default(443)
    .describe('443: federation through .well-known delegation on the client port; 8448: an extra TLS listener for federation'),
  proxy_synapse_admin: z.boolean().default(false).describe("proxy /_synapse/admin (Synapse's admin API)"),
  proxy_synapse_admin_allow: z.array(ipOrCidr).default([])
    .describe('addresses or networks allowed to reach /_synapse/admin; empty: everyone (the API still needs an admin token)'),
  proxy_tls_certificate: absolutePath.optional().describe('path on the host of the certificate (full chain, PEM) for all names served'),
  proxy_tls_certificate_key: absolutePath.optional().describe('path on the host of its private key'),
  proxy_tls_self_signed: z.boolean().default(false)
    .describe(`labs and private networks: make a server certificate in ${SELF_SIGNED_DIR}/, signed by a CA made on this host (ca.crt there) or by proxy_tls_ca_certificate`),
  // One CA for every host of an inventory: servers of a private federation trust each other's
  // certificates once that CA is in their trust stores (role ca_trust); a CA per host cannot be.
  proxy_tls_ca_certificate: caCertificate.optional()
    .describe('with proxy_tls_self_signed: the PEM certificate of a CA shared by all hosts, which signs this host\'s server certificate instead of a CA of its own'),
  proxy_tls_ca_key: secret().superRefine((k, ctx) => {
    const problem = keyProblem(k);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }).optional()
    .describe(`the private key of proxy_tls_ca_certificate (PEM, unencrypted), written 0600 root to ${SELF_SIGNED_DIR}/ to sign with`),
  proxy_listen_ipv6: z.boolean().default(true).describe('nginx: listen on IPv6 too (Apache listens as its ports.conf says)'),
  proxy_ready_port: port.default(8799)
    .describe('loopback-only port answering which configuration is live: reloads are waited for by polling it'),
  proxy_acme_webroot: absolutePath.optional()
    .describe('serve http://<name>/.well-known/acme-challenge/ from this folder (certbot --webroot) instead of redirecting it; with proxy_acme, certbot writes its challenges here (default /var/www/mxplay-acme)'),
  proxy_acme: acmeVar,
  jitsi_domain: hostName('meet.example.com').optional().describe('Jitsi server advertised to Element in .well-known/matrix/client (im.vector.riot.jitsi); with proxy_serve_jitsi also served here'),
  // Jitsi Meet of the jitsi role: its own virtual host, proxied to the web container.
  proxy_serve_jitsi: z.boolean().default(false)
    .describe('serve https://<jitsi_domain>/ proxied to the Jitsi web container (role jitsi), websockets included'),
  proxy_jitsi_host: hostOrIp('jitsi.internal').default('127.0.0.1').describe("address of the Jitsi web container's published HTTP port as seen from the proxy"),
  ...jitsiSharedVars,
  proxy_support_contacts: z.array(z.strictObject({
    role: z.enum(['m.role.admin', 'm.role.security']).default('m.role.admin'),
    matrix_id: z.string().regex(/^@[^:]+:.+$/, 'a Matrix user ID like @admin:example.com').optional(),
    email_address: z.email().optional(),
  }).refine((c) => c.matrix_id || c.email_address, 'a contact needs a matrix_id or an email_address')).default([])
    .describe('contacts published in .well-known/matrix/support'),
  proxy_support_page: z.url().optional().describe('support page published in .well-known/matrix/support'),
  proxy_well_known_client_extra: z.record(z.string(), z.unknown()).default({})
    .describe('more keys of .well-known/matrix/client (e.g. m.tile_server)'),
  // Element web and synapse-admin on virtual hosts of their own (see web-apps.ts).
  ...webAppVars,
};

/** The URL's host can name a virtual host: a host name or an IP address (IPv6 in brackets). */
function urlHostOk(u: string): boolean {
  let host: string;
  try {
    host = new URL(u).hostname;
  } catch {
    return true; // reported as no URL
  }
  return isHostName(host) || isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** The refinements both roles apply to their whole schema. Exactly one source of certificates. */
export function tlsChoice<T extends { proxy_tls_self_signed: boolean; proxy_tls_certificate?: string; proxy_tls_certificate_key?: string; proxy_acme?: object | undefined }>(v: T) {
  const given = !!v.proxy_tls_certificate || !!v.proxy_tls_certificate_key;
  if (v.proxy_tls_self_signed || v.proxy_acme) return !given && !(v.proxy_tls_self_signed && v.proxy_acme);
  return !!v.proxy_tls_certificate && !!v.proxy_tls_certificate_key;
}
/** An ACME server certifies host names (HTTP-01 asks http://<name>/): an IP address cannot be served so. */
export function acmeNamesCheck(v: { proxy_acme?: object | undefined; synapse_public_baseurl: string }, ctx: z.RefinementCtx): void {
  if (!v.proxy_acme) return;
  let host: string;
  try {
    host = new URL(v.synapse_public_baseurl).hostname;
  } catch {
    return; // reported on synapse_public_baseurl itself
  }
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) {
    ctx.addIssue({ code: 'custom', path: ['proxy_acme'], message: `certificates from ACME are for host names: synapse_public_baseurl's host ${host} is not one` });
  }
}
/** The shared CA: certificate and key together, only for the self-signed mode, and matching. */
export function sharedCaCheck(v: { proxy_tls_self_signed: boolean; proxy_tls_ca_certificate?: string; proxy_tls_ca_key?: string }, ctx: z.RefinementCtx): void {
  const cert = v.proxy_tls_ca_certificate;
  const key = v.proxy_tls_ca_key;
  if (cert === undefined && key === undefined) return;
  if (!v.proxy_tls_self_signed) {
    ctx.addIssue({ code: 'custom', path: [cert !== undefined ? 'proxy_tls_ca_certificate' : 'proxy_tls_ca_key'], message: 'signs the certificate of proxy_tls_self_signed: true only (a given proxy_tls_certificate is used as it is)' });
    return;
  }
  if (cert === undefined || key === undefined) {
    const [given, missing] = cert !== undefined ? ['proxy_tls_ca_certificate', 'proxy_tls_ca_key'] : ['proxy_tls_ca_key', 'proxy_tls_ca_certificate'];
    ctx.addIssue({ code: 'custom', path: [given], message: `${given} needs ${missing}: a CA signs with both` });
    return;
  }
  const problem = keyProblem(key, cert);
  if (problem) ctx.addIssue({ code: 'custom', path: ['proxy_tls_ca_key'], message: problem });
}
export const tlsChoiceMessage = {
  path: ['proxy_tls_certificate'],
  message: 'give proxy_tls_certificate and proxy_tls_certificate_key, or proxy_tls_self_signed: true, or proxy_acme (one of them)',
};
export function jitsiChoice<T extends { proxy_serve_jitsi: boolean; jitsi_domain?: string; synapse_server_name: string; synapse_public_baseurl: string }>(v: T) {
  if (!v.proxy_serve_jitsi) return true;
  return !!v.jitsi_domain && ![v.synapse_server_name, new URL(v.synapse_public_baseurl).hostname].includes(v.jitsi_domain);
}
export const jitsiChoiceMessage = {
  path: ['jitsi_domain'],
  message: 'proxy_serve_jitsi needs jitsi_domain: a host name of its own (not the Matrix host or the server name)',
};

/**
 * The base domain served as a virtual host (proxy_serve_base_domain) must be a plain host name:
 * the synapse role's server name may also carry a port, which no virtual host can be named by.
 */
export function baseDomainCheck(v: { proxy_serve_base_domain: boolean; synapse_server_name: string }, ctx: z.RefinementCtx): void {
  if (v.proxy_serve_base_domain && !isHostName(v.synapse_server_name)) {
    ctx.addIssue({
      code: 'custom',
      path: ['synapse_server_name'],
      message: 'proxy_serve_base_domain serves it as a virtual host: it must be a host name like example.com (no port)',
    });
  }
}

const proxyObject = z.object(proxyVars);
export type ProxyVars = z.output<typeof proxyObject>;

/** Everything the templates need besides the variables, computed once. */
export interface ProxySite {
  /** host name of the client API (from synapse_public_baseurl) */
  matrixDomain: string;
  /** synapse_server_name */
  baseDomain: string;
  /** serve a separate virtual host for the base domain */
  baseVhost: boolean;
  /** every name on the certificate */
  names: string[];
  upstream: string;
  cert: string;
  key: string;
  bodyBytes: number;
  wellKnown: { server: string; client: string; support: string | null };
  /** Jitsi Meet's virtual host, when served here. */
  jitsi: { domain: string; upstream: string } | null;
  /** The inventory's CA that signs the self-signed mode's certificate (else a CA of the host's own). */
  sharedCa: { fingerprint: string; certPem: string; keyPem: string } | null;
}

export function sizeInBytes(s: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(s)!;
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as '' | 'K' | 'M' | 'G'];
}

const json = (data: unknown) => `${JSON.stringify(data, null, 2)}\n`;

export function site(v: ProxyVars): ProxySite {
  const base = new URL(v.synapse_public_baseurl);
  const matrixDomain = base.hostname;
  const baseDomain = v.synapse_server_name;
  const baseVhost = v.proxy_serve_base_domain && baseDomain !== matrixDomain;
  const jitsi = v.proxy_serve_jitsi ? { domain: v.jitsi_domain!, upstream: httpUpstream(v.proxy_jitsi_host, v.jitsi_http_port) } : null;
  const names = [matrixDomain, ...(baseVhost ? [baseDomain] : []), ...(jitsi ? [jitsi.domain] : []), ...webAppNames(v)];
  const sharedCa = v.proxy_tls_self_signed && v.proxy_tls_ca_certificate && v.proxy_tls_ca_key
    ? { fingerprint: caFingerprint(v.proxy_tls_ca_certificate), certPem: caPem(v.proxy_tls_ca_certificate), keyPem: v.proxy_tls_ca_key }
    : null;
  const selfSigned = selfSignedPaths(names, sharedCa?.fingerprint);
  const client: Record<string, unknown> = {
    'm.homeserver': { base_url: base.href.replace(/\/+$/, '') },
    ...v.proxy_well_known_client_extra,
    ...(v.jitsi_domain ? { 'im.vector.riot.jitsi': { preferredDomain: v.jitsi_domain } } : {}),
  };
  const support = v.proxy_support_contacts.length || v.proxy_support_page
    ? {
        ...(v.proxy_support_contacts.length ? { contacts: v.proxy_support_contacts } : {}),
        ...(v.proxy_support_page ? { support_page: v.proxy_support_page } : {}),
      }
    : null;
  return {
    matrixDomain,
    baseDomain,
    baseVhost,
    names,
    upstream: httpUpstream(v.proxy_synapse_host, v.synapse_http_port),
    cert: v.proxy_acme ? acmeCertPaths.cert : v.proxy_tls_self_signed ? selfSigned.cert : v.proxy_tls_certificate!,
    key: v.proxy_acme ? acmeCertPaths.key : v.proxy_tls_self_signed ? selfSigned.key : v.proxy_tls_certificate_key!,
    bodyBytes: sizeInBytes(v.synapse_max_upload_size),
    wellKnown: {
      server: json({ 'm.server': `${matrixDomain}:${v.proxy_federation_port}` }),
      client: json(client),
      support: support && json(support),
    },
    jitsi,
    sharedCa,
  };
}

/**
 * Where the proxy sends requests that Synapse's workers serve (most specific first); everything
 * else goes to the main process. Read from the inventory, as the synapse role reads it.
 */
export function proxyWorkerRoutes(v: { synapse_main_host?: string }, ctx: TaskContext): WorkerRoute[] {
  return workerRoutes(homeserverTopology(ctx, v.synapse_main_host));
}

/** An upstream server address as nginx and Apache write it. */
export const serverAddress = (a: { address: string; port: number }) => `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;

const httpUpstream = (host: string, port: number) => `http://${serverAddress({ address: host, port })}`;

function selfSignedPaths(names: string[], caFingerprint?: string) {
  // Named after every name it covers, and after the shared CA that signs it: a new name or a new
  // CA gives a new certificate, not a stale one.
  const stem = `${SELF_SIGNED_DIR}/${names.join('+')}${caFingerprint ? `.ca-${caFingerprint}` : ''}`;
  return { cert: `${stem}.crt`, key: `${stem}.key` };
}

/** Where the shared CA's files go on the host (named after its fingerprint, as the certificate is). */
export const sharedCaPaths = (fingerprint: string) => ({
  cert: `${SELF_SIGNED_DIR}/shared-ca-${fingerprint}.crt`,
  key: `${SELF_SIGNED_DIR}/shared-ca-${fingerprint}.key`,
});

/**
 * Labs and private networks: a server certificate signed by a CA of this host (made once) or by
 * the inventory's shared CA, made once per set of names and CA (`creates`). Keys are 0600; CA
 * certificates are world-readable so tests and clients can fetch them.
 */
export function selfSignedCertificate(s: ProxySite, host: string, notify: string): Task[] {
  const d = SELF_SIGNED_DIR;
  const san = s.names.map((n) => `DNS:${n}`).join(',');
  const ext = [
    `subjectAltName=${san}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ].join('\\n');
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc';
  const ca = s.sharedCa ? sharedCaPaths(s.sharedCa.fingerprint) : { cert: `${d}/ca.crt`, key: `${d}/ca.key` };
  return [
    // The inventory's CA: its certificate world-readable, its key root's alone (never shown: sensitive).
    s.sharedCa && [
      directory({ path: d, mode: 0o755 }),
      file({ path: ca.cert, content: s.sharedCa.certPem, mode: 0o644 }),
      file({ path: ca.key, content: s.sharedCa.keyPem.replace(/\s*$/, '\n'), mode: 0o600, owner: 'root', group: 'root', sensitive: true }),
    ],
    !s.sharedCa && command({
      name: `self-signed CA ${d}/ca.crt`,
      creates: `${d}/ca.crt`,
      cmd: [
        `mkdir -p ${d} && chmod 755 ${d}`,
        `(umask 077; openssl req -x509 ${ec} -days 3650 -subj '/CN=mxplay self-signed CA of ${host}' -keyout ${d}/ca.key -out ${d}/ca.crt.tmp)`,
        `chmod 644 ${d}/ca.crt.tmp && mv -f ${d}/ca.crt.tmp ${d}/ca.crt`,
      ].join('\n'),
    }),
    command({
      name: `self-signed certificate ${s.cert}`,
      creates: s.cert,
      notify,
      cmd: [
        't=$(mktemp -d)',
        `printf '${ext}\\n' > "$t/ext"`,
        `(umask 077; openssl req -new ${ec} -subj '/CN=${s.names[0]}' -keyout ${s.key} -out "$t/csr")`,
        `openssl x509 -req -in "$t/csr" -CA ${ca.cert} -CAkey ${ca.key} -set_serial 0x$(openssl rand -hex 16) -days 825 -extfile "$t/ext" -out "$t/crt"`,
        `chmod 644 "$t/crt" && mv -f "$t/crt" ${s.cert}`,
        'rm -rf "$t"',
      ].join('\n'),
    }),
  ];
}

/**
 * The .well-known documents as files, served with Content-Type application/json and
 * Access-Control-Allow-Origin: *. They join the config set (same `validate`): a failed check
 * restores them together with the config that serves them.
 */
export function wellKnownFiles(s: ProxySite, validate: string, notify: string): Resource[] {
  const f = (name: string, content: string | null) =>
    file({ path: `${WELL_KNOWN_DIR}/${name}`, ...(content === null ? { state: 'absent' as const } : { content, mode: 0o644 }), kind: 'json', validate, notify });
  return [f('server', s.wellKnown.server), f('client', s.wellKnown.client), f('support', s.wellKnown.support)];
}

export function wellKnownDirectory(): Resource {
  return directory({ path: WELL_KNOWN_DIR, mode: 0o755 });
}

/**
 * A resource whose state only means something once a package has put its files in place (the
 * distro's default site appears when the package is installed): planned as '?' until then, and
 * probed again just before it runs.
 */
export function afterInstall<S>(marker: string, pkg: string, r: Resource<S>): Resource {
  return {
    ...r,
    probe: `if [ -e ${marker} ]; then\n${r.probe}\nelse echo '{"mxpNotInstalled":true}'; fi`,
    plan: (s: S & { mxpNotInstalled?: boolean }) => (s?.mxpNotInstalled ? { unresolved: `${pkg} is not installed yet` } : r.plan(s)),
  };
}

/**
 * Which configuration is live. A reload is asynchronous (the old workers keep answering for a
 * moment), so "it answers" proves nothing; the config carries a generation (a hash of the role's
 * variables and templates) on a loopback port that answers 204 for the live generation and 503
 * for any other. The handler polls the new generation's URL until it gets 204.
 */
export function generation(role: string, metaUrl: string, vars: unknown, routes: WorkerRoute[] = []): string {
  // The workers' routes come from other hosts' variables: part of what the config is made from.
  const h = createHash('sha256').update(JSON.stringify(routes.length ? { v: vars, routes } : vars));
  const dir = templatesDir(role, metaUrl);
  if (dir) for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(`${dir}/${f}`));
  return h.digest('hex').slice(0, 16);
}

function templatesDir(role: string, metaUrl: string): string | undefined {
  // role.ts run as TypeScript (roles/<role>/) or bundled (dist/roles/<role>.mjs).
  for (const rel of ['./templates', `../../roles/${role}/templates`]) {
    const p = fileURLToPath(new URL(rel, metaUrl));
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function readiness(port: number, gen: string) {
  return { http: `http://127.0.0.1:${port}/${gen}`, timeout_s: 30 };
}

/**
 * Jitsi Meet's virtual host (templates/jitsi.conf.ejs of the proxy role), in the proxy's validation
 * set; removed when the proxy no longer serves Jitsi.
 */
export function jitsiVhost(s: ProxySite, path: string, validate: string, notify: string): Task {
  return s.jitsi
    ? template({ path, src: 'jitsi.conf.ejs', data: { site: s, ...templateEncoders }, validate, notify })
    : file({ path, state: 'absent', kind: 'template', validate, notify });
}
