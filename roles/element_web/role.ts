import { defineRole, z, hostName, serverName, expect } from 'mxplay';
import { hostname, releaseSchemas, staticApp, webAppVars } from '../nginx/web-apps.ts';

export default defineRole({
  name: 'element_web',
  description: 'Element web from a release tarball (checksum verified, versions switched atomically), config.json from the inventory; served by the nginx or apache role',
  vars: z.object({
    element_domain: hostname.describe('host name Element is served on by the proxy role of this host (its own virtual host)'),
    element_web_dir: webAppVars.element_web_dir,
    element_web_version: releaseSchemas.version.describe('names the folder versions/<version>/ the tarball is unpacked into'),
    element_web_tarball: releaseSchemas.tarball
      .describe('release tarball: an http(s) URL fetched by the host (with curl), or a path on the control machine (relative: to where mxplay runs), uploaded'),
    element_web_sha256: releaseSchemas.sha256.describe('sha256 of the tarball; checked before anything is unpacked'),
    element_web_keep_versions: releaseSchemas.keep.describe('versions kept on the host, the current one included (switching back to one is instant)'),
    // Shared with the synapse role: the default homeserver Element offers.
    synapse_server_name: serverName.describe('the server name in user IDs: default_server_config server_name'),
    synapse_public_baseurl: z.url().describe('public URL of the client API: default_server_config base_url'),
    // Shared with the proxy roles (.well-known/matrix/client).
    jitsi_domain: hostName('meet.example.com').optional().describe('Jitsi server for video calls (jitsi.preferred_domain)'),
    element_brand: z.string().min(1).default('Element').describe('product name shown in Element (brand)'),
    element_room_directory_servers: z.array(z.string().min(1)).optional()
      .describe('servers listed in the room directory (room_directory.servers); default: synapse_server_name only'),
    element_disable_guests: z.boolean().default(true).describe('no guest access attempts (disable_guests); Synapse disallows guests by default'),
    element_disable_custom_urls: z.boolean().default(false).describe('users cannot pick another homeserver at login (disable_custom_urls)'),
    element_show_labs_settings: z.boolean().default(false).describe('show the Labs tab of experimental features (show_labs_settings)'),
    element_default_theme: z.string().optional().describe("default_theme, e.g. 'light' or 'dark'"),
    element_default_country_code: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 alpha-2 code like DE').optional()
      .describe('default_country_code for phone numbers'),
    element_config_extra: z.record(z.string(), z.unknown()).default({})
      .describe('more config.json keys (e.g. setting_defaults, integrations_ui_url); they replace generated keys of the same name'),
  }),
  tasks: (v) => staticApp({
    dir: v.element_web_dir,
    version: v.element_web_version,
    tarball: v.element_web_tarball,
    sha256: v.element_web_sha256,
    keep: v.element_web_keep_versions,
    keys: { source: 'element_web_tarball', sha256: 'element_web_sha256' },
    config: elementConfig(v),
  }),
  // The web client loads its config.json first: the homeserver it names is the one it talks to.
  verify: (v) => (v.element_domain
    ? [{ what: "Element web's config.json", probe: { kind: 'http', url: `https://${v.element_domain}/config.json`, expect: expect.expectElementConfig(v.synapse_public_baseurl.replace(/\/+$/, '')) } }]
    : []),
});

/** Element's config.json: documented keys only, extra keys last (they win). */
export function elementConfig(v: {
  synapse_server_name: string;
  synapse_public_baseurl: string;
  jitsi_domain?: string | undefined;
  element_brand: string;
  element_room_directory_servers?: string[] | undefined;
  element_disable_guests: boolean;
  element_disable_custom_urls: boolean;
  element_show_labs_settings: boolean;
  element_default_theme?: string | undefined;
  element_default_country_code?: string | undefined;
  element_config_extra: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    default_server_config: {
      'm.homeserver': { base_url: v.synapse_public_baseurl.replace(/\/+$/, ''), server_name: v.synapse_server_name },
    },
    brand: v.element_brand,
    disable_guests: v.element_disable_guests,
    disable_custom_urls: v.element_disable_custom_urls,
    show_labs_settings: v.element_show_labs_settings,
    room_directory: { servers: v.element_room_directory_servers ?? [v.synapse_server_name] },
    ...(v.jitsi_domain ? { jitsi: { preferred_domain: v.jitsi_domain } } : {}),
    ...(v.element_default_theme ? { default_theme: v.element_default_theme } : {}),
    ...(v.element_default_country_code ? { default_country_code: v.element_default_country_code } : {}),
    ...v.element_config_extra,
  };
}
