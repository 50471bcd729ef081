// PEM checks shared by the ca_trust role and the proxies' shared-CA mode. Certificates are parsed
// on the control machine (node:crypto) and written back in the form node gives them, so nothing of
// the given text but the certificate itself reaches a host. Messages never quote the value: a
// private key pasted by mistake must not end up in an error.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { z } from 'mxplay';

const ONE_CERT = /^\s*-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;

/** The certificate, or a reason it is not one CA certificate (no value quoted). */
export function parseCaCertificate(pem: string): { cert: X509Certificate } | { problem: string } {
  if (/PRIVATE KEY-----/.test(pem)) return { problem: 'holds a private key: give the CA certificate only (the key never leaves the CA)' };
  if (!ONE_CERT.test(pem)) return { problem: 'one PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), nothing else' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return { problem: 'not a readable X.509 certificate' };
  }
  if (!cert.ca) return { problem: 'not a CA certificate (basicConstraints CA:TRUE): a server certificate cannot be a trust anchor here' };
  return { cert };
}

/** The certificate as written to hosts: node's PEM form of it, one trailing newline. */
export function caPem(pem: string): string {
  const r = parseCaCertificate(pem);
  if ('problem' in r) throw new Error(r.problem);
  return `${r.cert.toString().trim()}\n`;
}

/** A short, stable name part for the certificate (SHA-256 of its DER). */
export function caFingerprint(pem: string): string {
  const r = parseCaCertificate(pem);
  if ('problem' in r) throw new Error(r.problem);
  return createHash('sha256').update(r.cert.raw).digest('hex').slice(0, 16);
}

export const caCertificate = z.string().superRefine((pem, ctx) => {
  const r = parseCaCertificate(pem);
  if ('problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
});

/** Whether the private key (PEM, unencrypted) is the one of the certificate; never says what it holds. */
export function keyProblem(keyPem: string, certPem?: string): string | undefined {
  if (!/^\s*-----BEGIN (EC |RSA )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END (EC |RSA )?PRIVATE KEY-----\s*$/.test(keyPem)) {
    return 'an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or EC/RSA PRIVATE KEY), nothing else';
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'not a readable private key';
  }
  if (certPem === undefined) return undefined;
  const c = parseCaCertificate(certPem);
  if ('problem' in c) return undefined; // reported on the certificate
  return c.cert.checkPrivateKey(key) ? undefined : 'not the private key of that CA certificate';
}
