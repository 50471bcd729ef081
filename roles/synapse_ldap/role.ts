import { defineRole, z, secret, apt, UserError } from 'mxplay';
import { FLAVOURS, fragment, synapseSharedVars, synapseHandlers } from '../synapse/fragment.ts';

/**
 * LDAP logins for Synapse through matrix-synapse-ldap3 (`ldap_auth_provider.LdapAuthProviderModule`),
 * in its own conf.d fragment that owns the top-level `modules:` key. Synapse merges top-level keys
 * shallowly, so this role is the only writer of `modules:`; another module would have to be added
 * here. The local password database policy stays the synapse role's (password_config).
 */
export default defineRole({
  name: 'synapse_ldap',
  description: "LDAP logins for Synapse (matrix-synapse-ldap3 under modules:) in conf.d/ldap.yaml",
  vars: z.object({
    synapse_ldap_enabled: z.boolean().default(true).describe('false removes the ldap fragment (no LDAP logins; the package stays)'),
    synapse_ldap_uri: z.string().regex(/^ldaps?:\/\/\S+$/, 'an LDAP URI like ldap://ldap.example.com:389 or ldaps://...').optional()
      .describe('the LDAP server. Required when enabled'),
    synapse_ldap_start_tls: z.boolean().default(true).describe('STARTTLS on an ldap:// connection'),
    synapse_ldap_base: z.string().min(1).optional().describe('search base of the users, e.g. ou=people,dc=example,dc=com. Required when enabled'),
    synapse_ldap_attributes: z.strictObject({
      uid: z.string().min(1).default('uid').describe('attribute that is the Matrix localpart'),
      mail: z.string().min(1).default('mail'),
      name: z.string().min(1).default('cn').describe('attribute used as display name'),
    }).prefault({}).describe('LDAP attributes for localpart, mail and display name'),
    synapse_ldap_bind_dn: z.string().min(1).optional()
      .describe('search mode: the DN Synapse binds as to look users up (unset: simple bind as uid=<user>,<base>)'),
    // ldap3 prepares a bind password with SASLprep (RFC 4013), which refuses control characters and
    // changes other spaces and invisible characters: such a password would never match the directory's.
    synapse_ldap_bind_password: secret()
      .refine((s) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}]|[^\P{Zs} ]/u.test(s), 'no control, invisible or non-ASCII space characters (SASLprep, which LDAP binds use, refuses or changes them)')
      .optional().describe('password of synapse_ldap_bind_dn'),
    synapse_ldap_filter: z.string().regex(/^\(.*\)$/, 'an LDAP filter in parentheses, e.g. (objectClass=inetOrgPerson)').optional()
      .describe('extra filter users must match, e.g. (objectClass=inetOrgPerson)'),
    synapse_ldap_verify_user: z.string().min(1).optional()
      .describe('a directory user mxplay verify logs in as through the client API (synapse_public_baseurl), then out'),
    synapse_ldap_verify_password: secret().optional().describe("that user's directory password"),
    ...synapseSharedVars,
  })
    .refine((v) => !v.synapse_ldap_verify_user === !v.synapse_ldap_verify_password, {
      path: ['synapse_ldap_verify_password'],
      message: 'the verify login needs both synapse_ldap_verify_user and synapse_ldap_verify_password',
    })
    .refine((v) => !v.synapse_ldap_enabled || !!v.synapse_ldap_uri, {
      path: ['synapse_ldap_uri'],
      message: 'the LDAP server URI is needed when LDAP is enabled, e.g. ldap://ldap.example.com:389',
    })
    .refine((v) => !v.synapse_ldap_enabled || !!v.synapse_ldap_base, {
      path: ['synapse_ldap_base'],
      message: 'the search base is needed when LDAP is enabled, e.g. ou=people,dc=example,dc=com',
    })
    .refine((v) => !v.synapse_ldap_bind_dn === !v.synapse_ldap_bind_password, {
      path: ['synapse_ldap_bind_password'],
      message: 'search mode needs both synapse_ldap_bind_dn and synapse_ldap_bind_password',
    }),
  tasks: (v) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    if (!v.synapse_ldap_enabled) return [fragment('ldap', 'synapse_ldap', null, flavour)];
    const config: Record<string, unknown> = {
      enabled: true,
      uri: v.synapse_ldap_uri,
      start_tls: v.synapse_ldap_start_tls,
      base: v.synapse_ldap_base,
      attributes: { ...v.synapse_ldap_attributes },
    };
    if (v.synapse_ldap_bind_dn) {
      config.bind_dn = v.synapse_ldap_bind_dn;
      config.bind_password = v.synapse_ldap_bind_password;
    }
    if (v.synapse_ldap_filter) config.filter = v.synapse_ldap_filter;
    return [
      // matrix.org's package bundles the module in its virtualenv; Debian's needs the package, and in
      // sid pkg_resources too (else Synapse dies at start). Installed before the fragment: Synapse's
      // check imports the module.
      v.synapse_package_source === 'debian' && apt({ names: ['matrix-synapse-ldap3', 'python3-pkg-resources'] }),
      fragment('ldap', 'synapse_ldap', {
        modules: [{ module: 'ldap_auth_provider.LdapAuthProviderModule', config }],
      }, flavour, { secret: true }),
    ];
  },
  // The synapse role defines the same handler (the first one in a play wins); this one makes the
  // role usable in a play of its own against a host where Synapse is already installed.
  handlers: synapseHandlers,
  // A real login of a directory user, as a client makes it, through the public URL.
  verify: (v, ctx) => {
    const baseUrl = ctx.hostVars.synapse_public_baseurl;
    if (!v.synapse_ldap_enabled || !v.synapse_ldap_verify_user || !v.synapse_ldap_verify_password) return [];
    if (typeof baseUrl !== 'string') throw new UserError('synapse_ldap_verify_user logs in through synapse_public_baseurl, which this host does not set', { key: 'synapse_ldap_verify_user' });
    return [{ what: 'LDAP login through the client API', probe: { kind: 'login', baseUrl, user: v.synapse_ldap_verify_user, password: v.synapse_ldap_verify_password } }];
  },
});
