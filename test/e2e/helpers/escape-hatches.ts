// What the escape-hatch checks of import.e2e put on the adopted host once the roles manage it: a
// hand-written Synapse fragment and nginx site written later by an admin, and the -e file (hostile
// values) that takes them over with synapse_extra_config, synapse_replaced_files,
// proxy_replaced_files and coturn_extra_options.
import { SYNAPSE_CONF_D, COTURN_EXTRA } from './handbuilt.ts';

export const HANDMADE = `${SYNAPSE_CONF_D}/handmade.yaml`;
/** An nginx site of the admin's own, live: sites-available + its sites-enabled symlink. */
export const OLD_SITE = { available: '/etc/nginx/sites-available/oldsite', enabled: '/etc/nginx/sites-enabled/oldsite', link: '../sites-available/oldsite', port: 8081 };
export const OLD_SITE_TEXT = `server { listen ${OLD_SITE.port}; location / { return 200 "handmade site\\n"; } }\n`;
export const TURN_SECRET = `esc turn "secret" #1 $x\\y 'z'`;
export const MAX_ALLOCATE_LIFETIME = 120;

/** The hand-written fragment: one option kept (admin_contact), one the synapse role owns, one dropped. */
export const handmadeText = (server: string) => `# written by hand, before mxplay
admin_contact: 'mailto:old-admin@${server}'
url_preview_enabled: false
require_auth_for_profile_requests: true
`;
/** Kept through synapse_extra_config; every value must reach Synapse exactly. */
export const adminContact = (server: string) => `mailto:o'brien"+{{ x }}@${server}\n: - &a *b # not a comment`;
export const NOTE = {
  yes: ['no', '0600', '1:20', '~', 'null', '{% if x %}', 'line one\nline two'],
  "it's": `a "b" \\ c %(app)s $HOME \`id\``,
  nested: { deep: [1, 2.5, true, null, ''] },
};
export const extraConfig = (server: string) => ({ admin_contact: adminContact(server), x_mxplay_note: NOTE });

/**
 * The -e file's variables (before jinjaLiteral). contact.yaml, the import left in place, also holds
 * admin_contact: replaced too, so Synapse reads admin_contact from extra.yaml alone.
 */
export const escapeVars = (server: string) => ({
  synapse_extra_config: extraConfig(server),
  synapse_replaced_files: ['handmade.yaml', 'contact.yaml'],
  proxy_replaced_files: [OLD_SITE.enabled, OLD_SITE.available],
  coturn_shared_secret: TURN_SECRET,
  coturn_extra_options: [COTURN_EXTRA, `max-allocate-lifetime=${MAX_ALLOCATE_LIFETIME}`],
});

/** Synapse's own loaders, as its processes read the config: raw merged files, and the parsed config. */
export const LOADER = `import json
import synapse.app.homeserver  # first, as the role's config check does (circular imports otherwise)
from synapse.config._base import find_config_files, read_config_files
from synapse.config.homeserver import HomeServerConfig
paths = ['/etc/matrix-synapse/homeserver.yaml', '${SYNAPSE_CONF_D}/']
files = find_config_files(paths)
raw = read_config_files(files)
config = HomeServerConfig.load_config('esc', [a for p in paths for a in ('-c', p)])
print(json.dumps({'files': files, 'admin_contact': config.server.admin_contact, 'note': raw.get('x_mxplay_note'),
                  'profile_auth': raw.get('require_auth_for_profile_requests'), 'url_preview_enabled': config.media.url_preview_enabled}))
`;
