// Certificates from an ACME server (Let's Encrypt, or any other) for every name a proxy serves,
// shared by the nginx and apache roles. Debian's certbot answers HTTP-01 with its webroot
// authenticator through the proxy's own port-80 virtual hosts (they serve
// /.well-known/acme-challenge/ from the webroot), renewals are Debian's certbot.timer.
//
// Bootstrapping: the HTTPS virtual hosts need a certificate before the first issuance, and certbot
// needs port 80 answering. So the proxy always serves the stable paths in ACME_DIR: a temporary
// self-signed certificate at first (made once), replaced by links to certbot's live/ files by
// the deploy hook, which then reloads the proxy. certbot keeps the hook in its renewal config, so
// a renewal by the timer is served without any run of mxplay.
import { z, command, directory, file, flushHandlers, q, service, type Task } from 'mxplay';

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
/** certbot's name for the certificate (its live/<name>/ folder). One per host: all names on it. */
export const ACME_CERT_NAME = 'mxplay';
/** The paths the proxy serves: a temporary certificate, then links to certbot's live/ files. */
export const ACME_DIR = '/etc/ssl/mxplay-acme';
/** Webroot for the challenges when proxy_acme_webroot is not given. */
export const ACME_WEBROOT = '/var/www/mxplay-acme';
export const DEPLOY_HOOK = '/usr/local/sbin/mxplay-acme-deploy';
const LIVE = `/etc/letsencrypt/live/${ACME_CERT_NAME}`;
const RENEWAL_CONF = `/etc/letsencrypt/renewal/${ACME_CERT_NAME}.conf`;

export const acmeCertPaths = { cert: `${ACME_DIR}/fullchain.pem`, key: `${ACME_DIR}/privkey.pem` };

const acmeObject = z.strictObject({
  directory: z.url({ protocol: /^https$/ }).default(LETS_ENCRYPT)
    .describe('ACME directory URL (default: Let\'s Encrypt production; its staging is https://acme-staging-v02.api.letsencrypt.org/directory)'),
  email: z.email().optional()
    .describe('contact address of the ACME account (expiry and policy mail), given when the account is registered; without it the account has no contact'),
  key_type: z.enum(['ecdsa', 'rsa']).default('ecdsa').describe('key of the certificate: ECDSA P-256 or RSA 2048'),
}, { error: (iss) => (iss.code === 'invalid_type' ? 'true, false, or an object with directory, email, key_type' : undefined) });
export type AcmeSettings = z.output<typeof acmeObject>;

/** `proxy_acme: true` takes every default; an object sets some; false or absent: no ACME. */
export const acmeVar = z.preprocess((x) => (x === true ? {} : x === false || x === null ? undefined : x), acmeObject.optional())
  .describe(`certificates for every name served from an ACME server (certbot, HTTP-01 through this proxy, renewed by certbot.timer): true, or { directory, email, key_type }; excludes proxy_tls_certificate and proxy_tls_self_signed`);

export function acmeWebroot(v: { proxy_acme?: AcmeSettings | undefined; proxy_acme_webroot?: string | undefined }): string {
  return v.proxy_acme_webroot ?? (v.proxy_acme ? ACME_WEBROOT : '');
}

/** certbot's command line for this set of names and settings (values quoted: they reach a shell). */
export function certbotCommand(names: string[], a: AcmeSettings, webroot: string): string {
  return [
    'certbot certonly --non-interactive --agree-tos --webroot',
    `--webroot-path ${q(webroot)}`,
    `--cert-name ${ACME_CERT_NAME}`,
    `--server ${q(a.directory)}`,
    `--key-type ${a.key_type}`,
    a.email ? `--email ${q(a.email)}` : '--register-unsafely-without-email',
    `--deploy-hook ${DEPLOY_HOOK}`,
    // Run only when the certificate is missing or no longer what the inventory asks for (see
    // acmeIssued): a new certificate then, even if the old one is far from expiring.
    '--force-renewal',
    ...names.map((n) => `-d ${q(n)}`),
  ].join(' ');
}

/**
 * True (exit 0) when the served certificate is certbot's, from this directory, with this key type,
 * for exactly these names: read from the host, not from a note of an earlier run.
 */
export function acmeIssued(names: string[], a: AcmeSettings): string {
  const want = [...names].sort().map((n) => `DNS:${n}`).join('\n');
  return [
    `[ "$(readlink ${acmeCertPaths.cert})" = ${LIVE}/fullchain.pem ]`,
    `grep -qxF ${q(`server = ${a.directory}`)} ${RENEWAL_CONF}`,
    `grep -qxF ${q(`key_type = ${a.key_type}`)} ${RENEWAL_CONF}`,
    `[ "$(openssl x509 -noout -ext subjectAltName -in ${LIVE}/cert.pem | sed 1d | tr -d ' ' | tr ',' '\\n' | LC_ALL=C sort)" = ${q(want)} ]`,
  ].join(' &&\n');
}

/** Run by certbot after an issuance or renewal of any certificate; acts on ours only. */
export function deployHook(role: string, unit: string): string {
  return `#!/bin/sh
# Managed by mxplay, role ${role}: certbot's deploy hook (--deploy-hook, kept in its renewal
# config) for the certificate ${ACME_CERT_NAME}. The proxy serves ${ACME_DIR}/; after the first
# issuance these become links to certbot's live/ files, which certbot itself moves on renewals.
set -eu
[ "\${RENEWED_LINEAGE:-}" = ${LIVE} ] || exit 0
for f in fullchain.pem privkey.pem; do
  ln -sfn "$RENEWED_LINEAGE/$f" ${ACME_DIR}/.$f.new
  mv -fT ${ACME_DIR}/.$f.new ${ACME_DIR}/$f
done
# A stopped proxy reads the new files when it starts.
if systemctl is-active --quiet ${unit}; then systemctl reload ${unit}; fi
`;
}

/**
 * Before the proxy's config: certbot, and the temporary certificate the config can name until
 * the first issuance (self-signed, 30 days, for the same names).
 */
export function acmeBootstrap(names: string[]): Task[] {
  const san = names.map((n) => `DNS:${n}`).join(',');
  return [
    directory({ path: ACME_DIR, mode: 0o755 }),
    command({
      name: `temporary certificate ${acmeCertPaths.cert} until the first ACME issuance`,
      creates: acmeCertPaths.cert,
      cmd: [
        `(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -days 30 -subj ${q(`/CN=${names[0]}`)} -addext ${q(`subjectAltName=${san}`)} -keyout ${acmeCertPaths.key} -out ${acmeCertPaths.cert}.tmp)`,
        `chmod 644 ${acmeCertPaths.cert}.tmp && mv -f ${acmeCertPaths.cert}.tmp ${acmeCertPaths.cert}`,
      ].join('\n'),
    }),
  ];
}

/**
 * After the proxy's config and service: the proxy is reloaded first (the port-80 virtual hosts
 * of new names must answer the challenges), then certbot runs when the certificate is not yet the
 * one asked for. Its deploy hook swaps the served files and reloads the proxy.
 */
export function acmeIssue(o: { role: string; unit: string; names: string[]; acme: AcmeSettings; webroot: string }): Task[] {
  return [
    flushHandlers(),
    file({ path: DEPLOY_HOOK, content: deployHook(o.role, o.unit), mode: 0o755 }),
    command({
      name: `ACME certificate for ${o.names.join(', ')} from ${o.acme.directory}`,
      unless: acmeIssued(o.names, o.acme),
      cmd: certbotCommand(o.names, o.acme, o.webroot),
    }),
    service({ name: 'certbot.timer', enabled: true, state: 'started' }),
  ];
}
