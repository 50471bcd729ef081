import { defineRole, z, expect } from 'mxplay';
import { hostname, releaseSchemas, staticApp, webAppVars } from '../nginx/web-apps.ts';

export default defineRole({
  name: 'synapse_admin',
  description: 'synapse-admin web app from a release tarball, served by the nginx or apache role only to the networks the inventory allows',
  vars: z.object({
    synapse_admin_domain: hostname.describe('host name synapse-admin is served on by the proxy role of this host (its own virtual host)'),
    synapse_admin_dir: webAppVars.synapse_admin_dir,
    synapse_admin_allow_networks: webAppVars.synapse_admin_allow_networks,
    synapse_admin_version: releaseSchemas.version.describe('names the folder versions/<version>/ the tarball is unpacked into'),
    synapse_admin_tarball: releaseSchemas.tarball
      .describe('release tarball: an http(s) URL fetched by the host (with curl), or a path on the control machine (relative: to where mxplay runs), uploaded'),
    synapse_admin_sha256: releaseSchemas.sha256.describe('sha256 of the tarball; checked before anything is unpacked'),
    synapse_admin_keep_versions: releaseSchemas.keep.describe('versions kept on the host, the current one included'),
    // Shared with the synapse role.
    synapse_public_baseurl: z.url().optional().describe('public URL of the client API: the homeserver the app is pinned to by default'),
    synapse_admin_restrict_base_url: z.array(z.url()).optional()
      .describe('homeservers the app may log in to (config.json restrictBaseUrl); default: synapse_public_baseurl when set; [] lets the user type any'),
    synapse_admin_config_extra: z.record(z.string(), z.unknown()).default({})
      .describe('more config.json keys; they replace generated keys of the same name'),
  }),
  tasks: (v) => staticApp({
    dir: v.synapse_admin_dir,
    version: v.synapse_admin_version,
    tarball: v.synapse_admin_tarball,
    sha256: v.synapse_admin_sha256,
    keep: v.synapse_admin_keep_versions,
    keys: { source: 'synapse_admin_tarball', sha256: 'synapse_admin_sha256' },
    config: adminConfig(v),
  }),
  verify: (v) => (v.synapse_admin_domain
    ? [{ what: 'synapse-admin', probe: { kind: 'http', url: `https://${v.synapse_admin_domain}/`, expect: expect.expectAdminApp } }]
    : []),
});

export function adminConfig(v: {
  synapse_public_baseurl?: string | undefined;
  synapse_admin_restrict_base_url?: string[] | undefined;
  synapse_admin_config_extra: Record<string, unknown>;
}): Record<string, unknown> {
  const urls = (v.synapse_admin_restrict_base_url ?? (v.synapse_public_baseurl ? [v.synapse_public_baseurl] : []))
    .map((u) => u.replace(/\/+$/, ''));
  return {
    // One URL as a string: the form every synapse-admin release with config.json (0.10+) reads.
    ...(urls.length ? { restrictBaseUrl: urls.length === 1 ? urls[0] : urls } : {}),
    ...v.synapse_admin_config_extra,
  };
}
