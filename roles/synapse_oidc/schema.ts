import { z, secret } from 'mxplay';
import { synapseSharedVars } from '../synapse/fragment.ts';

/**
 * The variables of the synapse_oidc role: one OpenID Connect provider for Synapse's
 * `oidc_providers`, checked here for what Synapse's own config check lets through but refuses or
 * breaks on at the first login (an http issuer, a scope with a space, an idp_id with a slash ...).
 */

// RFC 6749 3.3 scope-token: Synapse joins the scopes with spaces into one request parameter.
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is one word of printable ASCII, without space, quote or backslash (RFC 6749 scope-token)');

const url = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

// Synapse's templates are Jinja, rendered by Synapse with the provider's claims as `user`. mxplay
// evaluates Jinja in inventory values too: written there, they need {% raw %}...{% endraw %}.
const template = z.string().min(1);

const requirement = z.strictObject({
  attribute: z.string().min(1).describe('claim name, e.g. groups'),
  value: z.string().optional().describe('the claim must equal this (or, for a list claim, hold it)'),
  one_of: z.array(z.string()).min(1).optional().describe('the claim must equal (or hold) one of these'),
}).refine((r) => r.value === undefined || r.one_of === undefined, 'give value or one_of, not both');

export const ENDPOINT_KEYS = ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri'] as const;

export const oidcVars = z.object({
  synapse_oidc_enabled: z.boolean().default(true).describe('false removes the oidc fragment (no single sign-on; accounts made by it stay)'),
  synapse_oidc_idp_id: z.string().max(250).regex(/^[A-Za-z0-9._~-]+$/, 'letters, digits and . _ ~ - only (Synapse puts it in URLs)').optional()
    .describe('the provider\'s id, kept with every user it made (user_external_ids): never change it once users exist. Synapse prefixes it with "oidc-" (except "oidc" itself). Required when enabled'),
  synapse_oidc_idp_name: z.string().min(1).optional().describe('the name users see on the login button, e.g. "Example SSO". Required when enabled'),
  synapse_oidc_idp_brand: z.string().max(255).regex(/^[a-z][a-z0-9_.-]*$/, 'lower-case letters, digits and _ . -, starting with a letter').optional()
    .describe('a hint for clients to style the button (github, gitlab, google, apple, facebook, twitter)'),
  synapse_oidc_issuer: url.optional()
    .describe('the issuer exactly as the provider states it in its discovery document (a trailing slash counts). https unless synapse_oidc_skip_verification. Required when enabled'),
  synapse_oidc_discover: z.boolean().default(true).describe('read the endpoints from <issuer>/.well-known/openid-configuration; false: give synapse_oidc_endpoints'),
  synapse_oidc_endpoints: z.strictObject({
    authorization_endpoint: url.optional(),
    token_endpoint: url.optional(),
    userinfo_endpoint: url.optional(),
    jwks_uri: url.optional(),
  }).optional().describe('endpoints: with discovery they override the discovered ones; without, authorization and token, and jwks_uri (ID token) or userinfo_endpoint are needed'),
  synapse_oidc_skip_verification: z.boolean().default(false)
    .describe('accept a provider that breaks the spec (e.g. an http issuer): for tests only, never in production'),
  synapse_oidc_client_id: z.string().min(1).optional().describe('the client id Synapse has at the provider. Required when enabled'),
  // RFC 6749 A.2: a client secret is VSCHAR; providers refuse others (oidc-provider: invalid client_secret value).
  synapse_oidc_client_secret: secret().regex(/^[\x20-\x7E]+$/, 'printable ASCII only (RFC 6749 VSCHAR): providers refuse other characters')
    .optional().describe('the client secret (not with client_auth_method none). With client_secret_basic no % or + (Synapse sends it unencoded)'),
  synapse_oidc_client_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_basic')
    .describe('how Synapse authenticates at the token endpoint'),
  synapse_oidc_pkce_method: z.enum(['auto', 'always', 'never']).default('auto').describe('PKCE: auto uses it when the provider offers S256'),
  synapse_oidc_scopes: z.array(scopeToken).min(1).refine((s) => new Set(s).size === s.length, 'each scope once (one was listed twice)').default(['openid', 'profile'])
    .describe('scopes asked for; without openid Synapse uses plain OAuth2 and the userinfo endpoint. Add the scope that carries a claim you require (e.g. groups)'),
  synapse_oidc_user_profile_method: z.enum(['auto', 'userinfo_endpoint']).default('auto')
    .describe('auto: claims from the ID token (userinfo when openid is not asked for); userinfo_endpoint: always ask the userinfo endpoint'),
  synapse_oidc_user_mapping: z.strictObject({
    subject_template: template.default('{{ user.sub }}').describe('what identifies the user at the provider (stable, never reused)'),
    localpart_template: template.default('{{ user.preferred_username }}').describe('the Matrix localpart of a new user'),
    display_name_template: template.nullable().default('{{ user.name }}').describe('display name of a new user; null: none (the localpart shows)'),
    email_template: template.optional().describe('an email address added to a new user (e.g. {{ user.email }})'),
    confirm_localpart: z.boolean().default(false).describe('let the user confirm or change the localpart on a Synapse page first'),
  }).prefault({}).describe('Jinja templates over the claims (`user`) that make the Matrix account of a new user'),
  synapse_oidc_attribute_requirements: z.array(requirement).default([])
    .describe('claims a user must have to log in, all of them, e.g. [{attribute: groups, value: matrix-users}]; others see "You are not allowed to log in here."'),
  synapse_oidc_allow_existing_users: z.boolean().default(false)
    .describe('a provider user whose localpart is an existing Matrix account logs in to that account (else: refused as taken). Only with a provider you trust with every localpart'),
  synapse_oidc_enable_registration: z.boolean().default(true)
    .describe('false: the provider logs in only users it already knows (or existing ones with allow_existing_users); it makes no new accounts'),
  synapse_oidc_client_whitelist: z.array(url).default([])
    .describe('client URL prefixes Synapse sends the login token to without asking the user (sso.client_whitelist), e.g. https://element.example.com/'),
  synapse_oidc_update_profile_information: z.boolean().default(false)
    .describe('refresh the display name from the provider at each login (sso.update_profile_information)'),
  ...synapseSharedVars,
}).superRefine((v, ctx) => {
  if (!v.synapse_oidc_enabled) return;
  const need = (key: string, what: string) => ctx.addIssue({ code: 'custom', path: [key], message: `${what} is needed when single sign-on is enabled` });
  if (!v.synapse_oidc_idp_id) need('synapse_oidc_idp_id', 'the provider id (e.g. keycloak)');
  if (!v.synapse_oidc_idp_name) need('synapse_oidc_idp_name', 'the name on the login button');
  if (!v.synapse_oidc_issuer) need('synapse_oidc_issuer', 'the issuer URL (e.g. https://sso.example.com/realms/main)');
  if (!v.synapse_oidc_client_id) need('synapse_oidc_client_id', 'the client id');
  const secretless = v.synapse_oidc_client_auth_method === 'none';
  if (!secretless && !v.synapse_oidc_client_secret) {
    ctx.addIssue({ code: 'custom', path: ['synapse_oidc_client_secret'], message: `client_auth_method ${v.synapse_oidc_client_auth_method} needs the client secret` });
  }
  // Synapse's authlib puts id and secret into HTTP Basic as they are, without the form-encoding
  // RFC 6749 2.3.1 asks for; providers that decode it (as the RFC says) read % and + otherwise.
  if (v.synapse_oidc_client_auth_method === 'client_secret_basic') {
    if (/[%+]/.test(v.synapse_oidc_client_secret ?? '')) {
      ctx.addIssue({ code: 'custom', path: ['synapse_oidc_client_secret'], message: 'with client_secret_basic Synapse sends the secret unencoded, and a provider decoding it per RFC 6749 reads % and + otherwise: use a secret without them, or client_auth_method client_secret_post' });
    }
    if (/[%+:]/.test(v.synapse_oidc_client_id ?? '')) {
      ctx.addIssue({ code: 'custom', path: ['synapse_oidc_client_id'], message: 'with client_secret_basic Synapse sends the client id unencoded: a :, % or + in it breaks the login (use client_secret_post)' });
    }
  }
  if (secretless && v.synapse_oidc_client_secret) {
    ctx.addIssue({ code: 'custom', path: ['synapse_oidc_client_secret'], message: 'client_auth_method none sends no secret: remove the secret or choose client_secret_basic' });
  }
  // Synapse refuses these at the first login (authlib's metadata checks), not in its config check.
  const https = (key: string, u: string | undefined, sub?: string) => {
    if (u && !v.synapse_oidc_skip_verification && !u.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: sub ? [key, sub] : [key], message: `Synapse refuses a provider URL that is not https (${u}); synapse_oidc_skip_verification allows it, for tests only` });
    }
  };
  https('synapse_oidc_issuer', v.synapse_oidc_issuer);
  for (const k of ENDPOINT_KEYS) https('synapse_oidc_endpoints', v.synapse_oidc_endpoints?.[k], k);
  const e = v.synapse_oidc_endpoints ?? {};
  if (!v.synapse_oidc_discover) {
    if (!e.authorization_endpoint || !e.token_endpoint) {
      ctx.addIssue({ code: 'custom', path: ['synapse_oidc_endpoints'], message: 'without discovery Synapse needs authorization_endpoint and token_endpoint' });
    }
    const userinfo = v.synapse_oidc_user_profile_method === 'userinfo_endpoint' || !v.synapse_oidc_scopes.includes('openid');
    if (userinfo && !e.userinfo_endpoint) {
      ctx.addIssue({ code: 'custom', path: ['synapse_oidc_endpoints'], message: 'without discovery, claims from the userinfo endpoint need userinfo_endpoint' });
    }
    if (!userinfo && !e.jwks_uri) {
      ctx.addIssue({ code: 'custom', path: ['synapse_oidc_endpoints'], message: 'without discovery, ID tokens are checked with the keys at jwks_uri: give it (or use userinfo_endpoint)' });
    }
  }
});

export type OidcVars = z.output<typeof oidcVars>;
