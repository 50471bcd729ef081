import { apt, defineRole } from 'mxplay';
import { FLAVOURS, fragment, synapseHandlers } from '../synapse/fragment.ts';
import { ENDPOINT_KEYS, oidcVars, type OidcVars } from './schema.ts';

/**
 * Single sign-on for Synapse with one OpenID Connect provider, in its own conf.d fragment
 * (conf.d/oidc.yaml) that owns the top-level keys `oidc_providers` and `sso` (Synapse merges
 * top-level keys shallowly: no other fragment may write them). Synapse's own config check reads the
 * whole set, Jinja templates included, before it stays. Registration and password login stay the
 * synapse role's (enable_registration, password_config): SSO accounts are made by this provider
 * whatever synapse_registration says, unless synapse_oidc_enable_registration is false.
 */
export default defineRole({
  name: 'synapse_oidc',
  description: 'Single sign-on with an OpenID Connect provider (oidc_providers, sso) in conf.d/oidc.yaml',
  vars: oidcVars,
  tasks: (v) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    if (!v.synapse_oidc_enabled) return [fragment('oidc', 'synapse_oidc', null, flavour)];
    return [
      // Synapse's oidc extra: matrix.org's package bundles authlib in its virtualenv; Debian's only
      // suggests it, and Synapse's check imports it. Installed before the fragment is checked.
      v.synapse_package_source === 'debian' && apt({ names: ['python3-authlib'] }),
      fragment('oidc', 'synapse_oidc', oidcConfig(v), flavour, { secret: !!v.synapse_oidc_client_secret }),
    ];
  },
  // The synapse role defines the same handler; this one lets the role play on its own.
  handlers: synapseHandlers,
});

/** The fragment's content: one provider under oidc_providers, and the sso block. */
export function oidcConfig(v: OidcVars): Record<string, unknown> {
  const m = v.synapse_oidc_user_mapping;
  const provider: Record<string, unknown> = {
    idp_id: v.synapse_oidc_idp_id,
    idp_name: v.synapse_oidc_idp_name,
    ...(v.synapse_oidc_idp_brand ? { idp_brand: v.synapse_oidc_idp_brand } : {}),
    issuer: v.synapse_oidc_issuer,
    discover: v.synapse_oidc_discover,
    ...Object.fromEntries(ENDPOINT_KEYS.filter((k) => v.synapse_oidc_endpoints?.[k]).map((k) => [k, v.synapse_oidc_endpoints![k]])),
    ...(v.synapse_oidc_skip_verification ? { skip_verification: true } : {}),
    client_id: v.synapse_oidc_client_id,
    ...(v.synapse_oidc_client_secret ? { client_secret: v.synapse_oidc_client_secret } : {}),
    client_auth_method: v.synapse_oidc_client_auth_method,
    pkce_method: v.synapse_oidc_pkce_method,
    scopes: v.synapse_oidc_scopes,
    user_profile_method: v.synapse_oidc_user_profile_method,
    allow_existing_users: v.synapse_oidc_allow_existing_users,
    enable_registration: v.synapse_oidc_enable_registration,
    attribute_requirements: v.synapse_oidc_attribute_requirements.map((r) => ({ ...r })),
    user_mapping_provider: {
      config: {
        subject_template: m.subject_template,
        localpart_template: m.localpart_template,
        ...(m.display_name_template ? { display_name_template: m.display_name_template } : {}),
        ...(m.email_template ? { email_template: m.email_template } : {}),
        confirm_localpart: m.confirm_localpart,
      },
    },
  };
  return {
    oidc_providers: [provider],
    sso: { client_whitelist: v.synapse_oidc_client_whitelist, update_profile_information: v.synapse_oidc_update_profile_information },
  };
}
