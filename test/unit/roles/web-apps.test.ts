import { describe, expect, it } from 'vitest';
import apacheRole from '../../../roles/apache/role.ts';
import elementRole, { elementConfig } from '../../../roles/element_web/role.ts';
import nginxRole from '../../../roles/nginx/role.ts';
import { adminConfig } from '../../../roles/synapse_admin/role.ts';

const SHA = 'ab'.repeat(32);
const element = (o: Record<string, unknown> = {}) =>
  elementConfig(elementRole.vars.parse({
    element_domain: 'element.example.com',
    element_web_version: '1.11.90',
    element_web_tarball: 'https://example.com/element-v1.11.90.tar.gz',
    element_web_sha256: SHA,
    synapse_server_name: 'example.com',
    synapse_public_baseurl: 'https://matrix.example.com/',
    ...o,
  }));

describe("Element's config.json from the inventory", () => {
  const server = { 'm.homeserver': { base_url: 'https://matrix.example.com', server_name: 'example.com' } };
  it.each([
    {
      name: 'defaults: this homeserver, guests off, its own room directory',
      o: {},
      want: { default_server_config: server, brand: 'Element', disable_guests: true, disable_custom_urls: false, show_labs_settings: false, room_directory: { servers: ['example.com'] } },
    },
    {
      name: 'Jitsi, theme, country code and room directory servers given',
      o: { jitsi_domain: 'meet.example.com', element_default_theme: 'dark', element_default_country_code: 'DE', element_room_directory_servers: ['example.com', 'matrix.org'] },
      want: {
        default_server_config: server, brand: 'Element', disable_guests: true, disable_custom_urls: false, show_labs_settings: false,
        room_directory: { servers: ['example.com', 'matrix.org'] }, jitsi: { preferred_domain: 'meet.example.com' }, default_theme: 'dark', default_country_code: 'DE',
      },
    },
    {
      name: 'guests, custom homeserver URLs and the Labs tab as the inventory says',
      o: { element_disable_guests: false, element_disable_custom_urls: true, element_show_labs_settings: true },
      want: { default_server_config: server, brand: 'Element', disable_guests: false, disable_custom_urls: true, show_labs_settings: true, room_directory: { servers: ['example.com'] } },
    },
    {
      name: 'extra keys are added, and win over generated ones',
      o: { element_brand: 'Chat', element_config_extra: { brand: 'Other', setting_defaults: { breadcrumbs: false } } },
      want: {
        default_server_config: server, brand: 'Other', disable_guests: true, disable_custom_urls: false, show_labs_settings: false,
        room_directory: { servers: ['example.com'] }, setting_defaults: { breadcrumbs: false },
      },
    },
  ])('$name', ({ o, want }) => {
    const got = element(o);
    expect(got).toEqual(want);
    expect(Object.keys(got)).toEqual(Object.keys(want)); // a stable order: no diff from one run to the next
  });

  it('an upper-case checksum is accepted as the same sum', () => {
    const v = elementRole.vars.parse({ element_domain: 'e.x', element_web_version: '1', element_web_tarball: 't', element_web_sha256: SHA.toUpperCase(), synapse_server_name: 'x', synapse_public_baseurl: 'https://x/' });
    expect(v.element_web_sha256).toBe(SHA);
  });
});

describe("synapse-admin's config.json", () => {
  it.each([
    { name: 'pinned to synapse_public_baseurl by default (one URL as a string)', o: { synapse_public_baseurl: 'https://matrix.example.com/' }, want: { restrictBaseUrl: 'https://matrix.example.com' } },
    { name: 'no homeserver known: unrestricted', o: {}, want: {} },
    { name: 'an explicit empty list: unrestricted', o: { synapse_public_baseurl: 'https://m.x/', synapse_admin_restrict_base_url: [] }, want: {} },
    { name: 'several homeservers: a list', o: { synapse_admin_restrict_base_url: ['https://a.x/', 'https://b.x'] }, want: { restrictBaseUrl: ['https://a.x', 'https://b.x'] } },
    { name: 'extra keys', o: { synapse_admin_config_extra: { asManagedUsers: ['^@bot:x$'] } }, want: { asManagedUsers: ['^@bot:x$'] } },
  ])('$name', ({ o, want }) => {
    expect(adminConfig({ synapse_admin_config_extra: {}, ...o })).toEqual(want);
  });
});

describe('proxy roles: an app needs a virtual host name of its own', () => {
  const base = {
    synapse_server_name: 'example.com',
    synapse_public_baseurl: 'https://matrix.example.com/',
    proxy_tls_self_signed: true,
  };
  const issues = (o: Record<string, unknown>) => {
    const r = nginxRole.vars.safeParse({ ...base, ...o });
    const a = apacheRole.vars.safeParse({ ...base, ...o });
    expect(a.success).toBe(r.success); // one shared rule
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  it.each([
    { name: 'own names: fine', o: { element_domain: 'element.example.com', synapse_admin_domain: 'admin.example.com' }, want: [] },
    { name: 'no apps: fine', o: {}, want: [] },
    { name: "Element on the Matrix host's name", o: { element_domain: 'matrix.example.com' }, want: ['element_domain: matrix.example.com is already served by the Matrix virtual host (synapse_public_baseurl): give the app a name of its own'] },
    { name: 'synapse-admin on the base domain it serves', o: { proxy_serve_base_domain: true, synapse_admin_domain: 'example.com' }, want: ['synapse_admin_domain: example.com is already served by the base domain virtual host: give the app a name of its own'] },
    { name: 'the base domain when it is not served here: fine', o: { synapse_admin_domain: 'example.com' }, want: [] },
    { name: 'both apps on one name', o: { element_domain: 'apps.example.com', synapse_admin_domain: 'apps.example.com' }, want: ['synapse_admin_domain: apps.example.com is already served by element_domain: give the app a name of its own'] },
    { name: 'Element on the name Jitsi is served on', o: { proxy_serve_jitsi: true, jitsi_domain: 'meet.example.com', element_domain: 'meet.example.com' }, want: ['element_domain: meet.example.com is already served by the Jitsi virtual host (jitsi_domain): give the app a name of its own'] },
    { name: 'Element on the Jitsi name advertised but served elsewhere: fine', o: { jitsi_domain: 'meet.example.com', element_domain: 'meet.example.com' }, want: [] },
    { name: 'not a host name', o: { element_domain: 'https://element.example.com' }, want: ['element_domain: a host name like element.example.com'] },
    { name: 'an allow list entry that is no address', o: { synapse_admin_allow_networks: ['intranet'] }, want: [expect.stringMatching(/^synapse_admin_allow_networks\.0: /)] },
  ])('$name', ({ o, want }) => {
    expect(issues(o)).toEqual(want);
  });
});
