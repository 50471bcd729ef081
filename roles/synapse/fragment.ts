import { file, service, yamlFile, z, type Resource } from 'mxplay';

/**
 * Variables of the synapse role that every role writing a Synapse fragment needs too. Variables
 * are one flat namespace per host, so declaring the same schema here keeps them one value.
 */
export const synapseSharedVars = {
  synapse_package_source: z.enum(['matrix.org', 'debian']).default('matrix.org')
    .describe("matrix.org's apt repository (matrix-synapse-py3) or Debian's own matrix-synapse"),
  synapse_http_port: z.number().int().default(8008).describe("Synapse's plain HTTP listener"),
};

/** Restart Synapse, whatever changed (its signing key, consent templates, a playbook's own reason). */
export const RESTART_SYNAPSE = 'restart synapse';
/**
 * What a change of Synapse's configuration files notifies: a restart only if the configuration
 * they make differs from the one the running process started with (new headers, another file
 * layout or a removed duplicate change nothing Synapse reads: no restart, no downtime).
 */
export const RESTART_SYNAPSE_IF_CONFIG_CHANGED = 'restart synapse if its config changed';

/** Prints a digest of the merged configuration (homeserver.yaml, then conf.d by name); --stamp keeps it. */
export const CONFIG_DIGEST = '/usr/local/lib/mxplay/synapse-config-digest';
/** The digest of the configuration the running main process started with (tmpfs: written at each start). */
export const RUNNING_CONFIG = '/run/mxplay-synapse-config';

/**
 * The digest tool, in Synapse's own Python (its YAML module); the digest ignores comments, order and
 * layout. `at` moves its files (tests).
 */
export function configDigestScript(f: SynapseFlavour, at = { etc: '/etc/matrix-synapse', stamp: RUNNING_CONFIG }): string {
  return `#!${f.python}
# managed by mxplay, role synapse: the digest of the configuration Synapse reads (see ${RUNNING_CONFIG})
import glob, hashlib, json, os, sys, yaml
stamp = ${JSON.stringify(at.stamp)}
if sys.argv[1:] == ['--stamp'] and os.path.exists(stamp):
    os.remove(stamp)
merged = {}
for path in [${JSON.stringify(`${at.etc}/homeserver.yaml`)}] + sorted(glob.glob(${JSON.stringify(`${at.etc}/conf.d/*.yaml`)})):
    with open(path) as f:
        merged.update(yaml.safe_load(f) or {})
digest = hashlib.sha256(json.dumps(merged, sort_keys=True, default=str).encode()).hexdigest()
if sys.argv[1:] == ['--stamp']:
    with open(stamp, 'w') as f:
        print(digest, file=f)
else:
    print(digest)
`;
}

/** True when the running main process started with the configuration the files make now. */
export const RUNS_CURRENT_CONFIG = { check: `[ -x ${CONFIG_DIGEST} ] && [ -s ${RUNNING_CONFIG} ] && [ "$(${CONFIG_DIGEST})" = "$(cat ${RUNNING_CONFIG})" ]` };

/**
 * Restart Synapse and wait until it answers /health. Every role writing a Synapse file defines
 * these, so each also plays without the synapse role in the same play.
 */
export function synapseHandlers(v: { synapse_http_port: number }): Record<string, Resource> {
  return {
    [RESTART_SYNAPSE]: service.restart('matrix-synapse', synapseReady(v.synapse_http_port)),
    [RESTART_SYNAPSE_IF_CONFIG_CHANGED]: service.restart('matrix-synapse', synapseReady(v.synapse_http_port), { upToDate: RUNS_CURRENT_CONFIG }),
  };
}

/** The main process answers /health on its plain HTTP listener. */
export function synapseReady(port: number) {
  return { http: `http://127.0.0.1:${port}/health`, timeout_s: 90 };
}

/** Facts that differ between the two package sources of Synapse. */
export interface SynapseFlavour {
  package: string;
  python: string;
  registerCommand: string;
}

export const FLAVOURS: Record<'debian' | 'matrix.org', SynapseFlavour> = {
  debian: { package: 'matrix-synapse', python: '/usr/bin/python3', registerCommand: 'synapse_register_new_matrix_user' },
  'matrix.org': {
    package: 'matrix-synapse-py3',
    python: '/opt/venvs/matrix-synapse/bin/python',
    registerCommand: '/opt/venvs/matrix-synapse/bin/register_new_matrix_user',
  },
};

export const CONF_DIR = '/etc/matrix-synapse/conf.d';

/** The config every Synapse process reads, as the packages' units give it: the base file, then conf.d. */
export const CONFIG_PATHS = `--config-path=/etc/matrix-synapse/homeserver.yaml --config-path=${CONF_DIR}/`;

/** Synapse's service user, the same in both package flavours (created by the package's postinst). */
export const SYNAPSE_USER = 'matrix-synapse';

/**
 * Owner and mode of a fragment holding a secret. Not root:nogroup 0640: on Debian nogroup is the
 * primary group of several daemons (nobody, _apt, sshd, matrix-synapse itself), so the user is the
 * only principal that is Synapse's alone. Owning the file gives Synapse no power it lacks: the
 * packages make /etc/matrix-synapse its own (dpkg-statoverride). Until the package has created the
 * user, such a fragment is '?' in a plan and written once the package is installed.
 */
export const SECRET_FRAGMENT = { mode: 0o600, owner: SYNAPSE_USER, group: 'root' } as const;

/**
 * Synapse's own check of the whole config set: the base file plus every conf.d fragment.
 * It is `python -m synapse.config`, but with synapse.app.homeserver imported first: Debian's
 * dependency check imports installed modules such as ldap_auth_provider, which import back into
 * the half-loaded config package (a circular import) when synapse.config is the entry point.
 */
export function synapseCheck(f: SynapseFlavour): string {
  return `${f.python} -c 'import sys, synapse.app.homeserver; from synapse.config.__main__ import main; main(sys.argv)' -c /etc/matrix-synapse/homeserver.yaml -c ${CONF_DIR}/`;
}

/**
 * A conf.d fragment owned by one role. Synapse merges top-level keys shallowly (a later file
 * replaces an earlier file's whole key), so each fragment must be the only writer of its keys.
 * `data: null` means the feature is off: the fragment is removed.
 */
export function fragment(
  name: string,
  owner: string,
  data: Record<string, unknown> | null,
  f: SynapseFlavour,
  opts: { secret?: boolean; sensitive?: boolean } = {},
): Resource {
  const path = `${CONF_DIR}/${name}.yaml`;
  const common = { path, validate: synapseCheck(f), notify: RESTART_SYNAPSE_IF_CONFIG_CHANGED };
  if (data === null) return file({ ...common, state: 'absent', kind: 'yaml' });
  return yamlFile({
    ...common,
    data,
    header: `managed by mxplay, role ${owner}: owns ${Object.keys(data).sort().join(', ')}`,
    // Fragments holding secrets are readable by Synapse's user only: both packages make it
    // matrix-synapse with group nogroup, which other daemons share (no group of its own).
    ...(opts.secret ? SECRET_FRAGMENT : { mode: 0o644 }),
    ...(opts.sensitive ? { sensitive: true } : {}),
  });
}


// The keys and fragment names mxplay's roles write live in the core (src/roles/synapse-keys.ts), which
// mxplay import reads too.
export { MXPLAY_SYNAPSE_KEYS, MXPLAY_FRAGMENTS } from 'mxplay';
