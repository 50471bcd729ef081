import { defineRole, z, apt, directory, file, command, q, retiredFiles } from 'mxplay';
import { synapseSharedVars } from '../synapse/fragment.ts';
import { caCertificate, caPem } from './pem.ts';

/** update-ca-certificates reads every *.crt below this folder; the role owns its own subfolder. */
export const CA_DIR = '/usr/local/share/ca-certificates/mxplay';
const UPDATE = 'update CA trust';
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export default defineRole({
  name: 'ca_trust',
  description: "CA certificates added to the host's trust store (update-ca-certificates); running Synapse restarted to see them",
  vars: z.object({
    ca_trust_certificates: z.record(z.string(), caCertificate).default({})
      .superRefine((certs, ctx) => {
        // Checked here rather than as the record's key schema, whose message zod replaces by its own.
        for (const name of Object.keys(certs)) {
          if (!NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'a name like lab-ca (a-z, 0-9, _ and -, at most 64): it names the file' });
        }
      })
      .describe(`name -> PEM CA certificate, trusted by the host (written to ${CA_DIR}/<name>.crt); a name no longer listed is removed`),
    synapse_http_port: synapseSharedVars.synapse_http_port,
  }),
  tasks: (v) => {
    const names = Object.keys(v.ca_trust_certificates).sort();
    return [
      apt({ names: ['ca-certificates'] }),
      directory({ path: CA_DIR, mode: 0o755 }),
      names.map((n) => file({ path: `${CA_DIR}/${n}.crt`, content: caPem(v.ca_trust_certificates[n]!), mode: 0o644, notify: UPDATE })),
      retiredCertificates(names),
    ];
  },
  handlers: (v) => ({
    [UPDATE]: command({
      name: 'update-ca-certificates, then restart running Synapse processes',
      cmd: [
        'update-ca-certificates',
        // Synapse builds its federation TLS context (Twisted's platformTrust: OpenSSL's default
        // paths, /etc/ssl/certs) once at start, and remembers failed .well-known lookups and the
        // servers it backed off from: running processes restart. A stopped or absent Synapse is
        // left alone (the synapse role starts it later in the play, with the new trust).
        "units=$(systemctl list-units --plain --no-legend --state=active 'matrix-synapse.service' 'matrix-synapse-worker@*.service' | cut -d' ' -f1)",
        'if [ -n "$units" ]; then systemctl restart $units; fi',
        `if systemctl is-active --quiet matrix-synapse.service; then`,
        `  t=$(( $(date +%s) + 90 ))`,
        `  until curl -s -o /dev/null ${q(`http://127.0.0.1:${v.synapse_http_port}/health`)}; do`,
        `    if [ "$(date +%s)" -ge "$t" ]; then echo 'matrix-synapse did not answer /health within 90s after its restart' >&2; exit 1; fi`,
        '    sleep 0.2',
        '  done',
        'fi',
      ].join('\n'),
    }),
  }),
});

/** Certificates this role wrote once and the inventory no longer lists: removed, and the trust updated. */
function retiredCertificates(keep: string[]) {
  return retiredFiles({
    type: 'ca-certificates',
    dir: CA_DIR,
    extension: '.crt',
    keep,
    summary: (gone) => `stop trusting ${gone.join(', ')}`,
    retire: (n) => `rm -f ${q(`${CA_DIR}/${n}.crt`)}`,
    notify: [UPDATE],
  });
}
