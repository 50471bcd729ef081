// What a homeserver built by hand keeps when the roles take it over (mxplay import): settings no
// role variable covers (synapse_extra_config, written as a fragment of their own) and the
// hand-written fragments the roles' fragments replace (synapse_replaced_files, removed in the same
// validation set, so Synapse never runs on half of either config).
import { file, z, type Resource } from 'mxplay';
import { CONF_DIR, MXPLAY_FRAGMENTS, MXPLAY_SYNAPSE_KEYS, RESTART_SYNAPSE_IF_CONFIG_CHANGED, synapseCheck, type SynapseFlavour } from './fragment.ts';

/** A top-level Synapse option as Synapse names them; it also goes into the fragment's comment line. */
const OPTION_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export const extraConfigVar = z.record(z.string(), z.unknown()).default({})
  .superRefine((o, ctx) => {
    for (const key of Object.keys(o)) {
      if (!OPTION_NAME.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'not a Synapse option name (letters, digits and _, starting with a letter)' });
      } else if (Object.hasOwn(MXPLAY_SYNAPSE_KEYS, key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `mxplay writes ${key} itself: set it with ${MXPLAY_SYNAPSE_KEYS[key]}, not here (Synapse would take only one of the two)` });
      }
    }
  })
  .describe("top-level Synapse options no role variable covers, written as given into conf.d/extra.yaml (0600, diff hidden: hand-written options may hold secrets); Synapse's config check reads them with the rest before any restart. Keys a role writes are refused, naming the variable to use. Values are Jinja to mxplay: write text holding {{ as !unsafe (mxplay import does)");

/** A file name in conf.d, as `ls` shows it: no path, nothing the roles write there. */
export const replacedFilesVar = z.array(z.string()
  .min(1, 'a file name, not empty')
  .refine((n) => !n.includes('/') && n !== '.' && n !== '..', 'a bare file name in /etc/matrix-synapse/conf.d/ (no / and not . or ..)')
  .refine((n) => !/[\0-\x1f\x7f]/.test(n), 'no control characters or line breaks')
  .refine((n) => !MXPLAY_FRAGMENTS.some((f) => n === `${f}.yaml`), { error: (iss) => `${String(iss.input)} is a fragment mxplay writes itself (it cannot be a hand-written file to remove)` }))
  .default([])
  .superRefine((names, ctx) => {
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `${n} is listed twice` });
    });
  })
  .describe(`hand-written files in ${CONF_DIR}/ (bare names like my-database.yaml) that the roles' fragments replace: removed in the same validation set as the fragments (Synapse's check runs over the result; on failure they are restored), then Synapse restarts. A name not there is already removed`);

/** The hand-written fragments' removal: same check and handler as the fragments, so one set with them. */
export function replacedFragments(names: string[], f: SynapseFlavour): Resource[] {
  return names.map((n) => file({ path: `${CONF_DIR}/${n}`, state: 'absent', validate: synapseCheck(f), notify: RESTART_SYNAPSE_IF_CONFIG_CHANGED }));
}
