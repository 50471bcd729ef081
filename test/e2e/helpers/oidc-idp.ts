// The lab's OpenID Connect provider (test/fixtures/oidc-idp/server.ts) on a lab host: bundled here
// by esbuild into one file, run there by Debian's nodejs as a transient systemd unit, over HTTPS
// with a certificate of the lab CA. Ready when its discovery document answers through TLS.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { issueCertificate } from '../../lab/ca.ts';
import { run } from '../../lab/exec.ts';
import type { LabFixture } from '../../lab/index.ts';
import { sshArgv } from '../../lab/ssh.ts';
import { pollUntil } from '../../lab/wait.ts';
import { httpsByName } from './https.ts';

const SOURCE = fileURLToPath(new URL('../../fixtures/oidc-idp/server.ts', import.meta.url));
const DIR = '/opt/lab-idp';
const UNIT = 'lab-idp';

export interface IdpUser {
  username: string;
  password: string;
  claims: Record<string, unknown>;
}

export interface IdpOptions {
  host: string;
  /** the name the provider is reached by (its issuer is https://NAME) */
  name: string;
  /** the lab CA's certificate, which signs the provider's */
  caPem: string;
  client: { client_id: string; client_secret: string; redirect_uris: string[] };
  users: IdpUser[];
}

/** The bundle: oidc-provider and its dependencies in one ESM file (require() shimmed for CJS parts). */
async function bundle(): Promise<string> {
  const r = await build({
    entryPoints: [SOURCE], bundle: true, platform: 'node', format: 'esm', target: 'node18', write: false, logLevel: 'error',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return r.outputFiles[0]!.text;
}

async function upload(lab: LabFixture, host: string, path: string, text: string, mode: string): Promise<void> {
  const r = await run([...sshArgv(lab.host(host).ip), '--', `umask 077; cat > ${path} && chmod ${mode} ${path}`], { input: text, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`upload ${host}:${path}: ${r.stderr}`);
}

/** Installs nodejs, uploads the provider and starts it; resolves once it answers over TLS. Returns the issuer. */
export async function startIdp(lab: LabFixture, o: IdpOptions): Promise<string> {
  const issuer = `https://${o.name}`;
  const [code, cert] = await Promise.all([bundle(), issueCertificate([o.name])]);
  const install = await lab.ssh(o.host, `set -e; install -d -m 700 ${DIR}; export DEBIAN_FRONTEND=noninteractive
apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends nodejs >/dev/null; node --version`, { timeoutMs: 600_000 });
  if (install.code !== 0) throw new Error(`nodejs on ${o.host}: ${install.stdout}${install.stderr}`);
  const config = { issuer, port: 443, cert: `${DIR}/cert.pem`, key: `${DIR}/key.pem`, client: o.client, users: o.users };
  await upload(lab, o.host, `${DIR}/idp.mjs`, code, '600');
  await upload(lab, o.host, `${DIR}/config.json`, JSON.stringify(config), '600');
  await upload(lab, o.host, `${DIR}/cert.pem`, cert.certPem, '600');
  await upload(lab, o.host, `${DIR}/key.pem`, cert.keyPem, '600');
  const start = await lab.ssh(o.host, `systemctl reset-failed ${UNIT} 2>/dev/null; systemd-run --unit=${UNIT} --property=WorkingDirectory=${DIR} node ${DIR}/idp.mjs ${DIR}/config.json`);
  if (start.code !== 0) throw new Error(`start the IdP on ${o.host}: ${start.stderr}`);
  await pollUntil(async () => {
    const r = await httpsByName(lab.host(o.host).ip, o.caPem, o.name, '/.well-known/openid-configuration', { timeoutMs: 5_000 });
    return r.status === 200 && r.json?.issuer === issuer;
  }, {
    what: `the IdP on ${o.host} answering ${issuer}/.well-known/openid-configuration`,
    timeoutMs: 60_000,
    intervalMs: 250,
    explain: async () => (await lab.ssh(o.host, `journalctl -u ${UNIT} --no-pager -n 30`)).stdout,
  });
  return issuer;
}

/** The provider's log, for failure messages. */
export async function idpLog(lab: LabFixture, host: string): Promise<string> {
  return (await lab.ssh(host, `journalctl -u ${UNIT} --no-pager -n 60`)).stdout;
}
