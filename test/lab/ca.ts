// The lab's own CA, made once per lab state (next to the SSH key): tests that want real
// certificates for public-looking names issue them here and give them to the proxies through
// proxy_tls_certificate / proxy_tls_certificate_key, or hand the CA itself to the proxies' shared-CA
// self-signed mode, and put ca.crt in the hosts' trust stores (role ca_trust) and their clients'.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { STATE_DIR } from './config.ts';
import { withLock } from './lock.ts';

const run = promisify(execFile);
export const CA_DIR = join(STATE_DIR, 'ca');
const CA_CERT = join(CA_DIR, 'ca.crt');
const CA_KEY = join(CA_DIR, 'ca.key');
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];

export interface LabCa {
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface IssuedCertificate {
  /** the server certificate (PEM), signed by the lab CA */
  certPem: string;
  /** its private key (PEM) */
  keyPem: string;
}

/** The lab CA, made on first use (concurrent test files make it once, under a lock). */
export async function labCa(): Promise<LabCa> {
  if (!existsSync(CA_CERT)) {
    await mkdir(CA_DIR, { recursive: true, mode: 0o700 });
    await withLock(join(CA_DIR, 'make.lock'), async () => {
      if (existsSync(CA_CERT)) return;
      // Made beside the final files and renamed: a crash never leaves a certificate without its key.
      const tmp = `${CA_CERT}.${process.pid}.tmp`;
      const tmpKey = `${CA_KEY}.${process.pid}.tmp`;
      await run('openssl', ['req', '-x509', ...EC, '-days', '3650', '-subj', '/CN=mxplay lab CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', tmpKey, '-out', tmp]);
      await rename(tmpKey, CA_KEY);
      await rename(tmp, CA_CERT);
    });
  }
  return { certFile: CA_CERT, keyFile: CA_KEY, certPem: await readFile(CA_CERT, 'utf8') };
}

/** A server certificate for these DNS names (the first is its CN), signed by the lab CA. */
export async function issueCertificate(names: string[]): Promise<IssuedCertificate> {
  if (!names.length || names.some((n) => !/^[a-z0-9*]([a-z0-9.-]*[a-z0-9])?$/.test(n))) throw new Error(`issueCertificate: bad names ${JSON.stringify(names)}`);
  const ca = await labCa();
  const dir = await mkdtemp(join(tmpdir(), 'mxp-lab-cert-'));
  try {
    const ext = [
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
    ].join('\n');
    await writeFile(join(dir, 'ext'), `${ext}\n`);
    await run('openssl', ['req', '-new', ...EC, '-subj', `/CN=${names[0]}`, '-keyout', join(dir, 'key'), '-out', join(dir, 'csr')]);
    await run('openssl', ['x509', '-req', '-in', join(dir, 'csr'), '-CA', ca.certFile, '-CAkey', ca.keyFile,
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '825', '-extfile', join(dir, 'ext'), '-out', join(dir, 'crt')]);
    return { certPem: await readFile(join(dir, 'crt'), 'utf8'), keyPem: await readFile(join(dir, 'key'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
