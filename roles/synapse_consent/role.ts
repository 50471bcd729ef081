import { defineRole, z, directory, template, absolutePath, jinjaHtmlText } from 'mxplay';
import { FLAVOURS, fragment, synapseSharedVars, synapseHandlers, RESTART_SYNAPSE } from '../synapse/fragment.ts';

const DEFAULT_BLOCK_ERROR =
  'To continue using this homeserver you must review and agree to the terms and conditions at %(consent_uri)s';

/**
 * Synapse's consent tracking (docs/consent_tracking.md): the policy documents as Jinja2 templates
 * under `<template_dir>/en/<version>.html` plus `success.html`, and the `user_consent:` block in
 * conf.d/user_consent.yaml. The `consent` listener resource belongs to the synapse role's
 * `listeners` fragment: this role only checks that `synapse_listener_resources` has it (and has
 * not it when consent is off, since Synapse refuses to start a consent resource without
 * `user_consent:`). `form_secret` is written by the synapse role.
 */
export default defineRole({
  name: 'synapse_consent',
  description: "Synapse's consent tracking: policy documents (templates) and the user_consent: block in conf.d/user_consent.yaml",
  vars: z.object({
    synapse_consent_enabled: z.boolean().default(true)
      .describe("false removes the user_consent fragment (then take 'consent' out of synapse_listener_resources)"),
    synapse_consent_template_dir: absolutePath
      .default('/etc/matrix-synapse/consent_templates')
      .describe('where the policy documents live: <dir>/en/<version>.html and <dir>/en/success.html'),
    synapse_consent_policies: z.record(
      z.string().regex(/^[A-Za-z0-9._-]+$/, 'a version like 1.0 (letters, digits, . _ -)'),
      z.string().min(1),
    ).default({}).describe('version → HTML body of that policy, placed verbatim: raw HTML and Jinja2 by design (has_consented, public_version, user, version), rendered by Synapse; the accept form is added'),
    synapse_consent_version: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a version like 1.0').optional()
      .describe('the version users must accept; a key of synapse_consent_policies. Required when enabled'),
    synapse_consent_policy_name: z.string().min(1).refine((s) => !s.includes('\0'), 'no NUL character (HTML cannot hold one)').default('Privacy Policy')
      .describe('the name shown in the documents (as text: HTML and Jinja2 in it are shown, not run) and to clients'),
    synapse_consent_server_notice_content: z.string().min(1).optional()
      .describe('server notice sent to users who have not consented (%(consent_uri)s is their link); needs the synapse_server_notices role'),
    synapse_consent_block_events_error: z.string().min(1).nullable().default(DEFAULT_BLOCK_ERROR)
      .describe('error returned to users who send events before consenting (%(consent_uri)s is their link); null: never block'),
    synapse_consent_require_at_registration: z.boolean().default(false)
      .describe('ask for consent during registration (an m.login.terms stage)'),
    synapse_consent_send_server_notice_to_guests: z.boolean().default(false),
    // The synapse_server_notices role's switch (one namespace per host); stated here so that a
    // server notice is never configured without server notices, which Synapse fails on at start.
    synapse_server_notices_enabled: z.boolean().optional()
      .describe('the synapse_server_notices role\'s switch; must be true when synapse_consent_server_notice_content is set'),
    // Shared with the synapse role (one flat namespace per host): same name, same enum and default.
    synapse_listener_resources: z.array(z.string()).default(['client', 'federation'])
      .describe("the synapse role's listener resources: must include 'consent' while consent is enabled"),
    ...synapseSharedVars,
  })
    .refine((v) => !v.synapse_consent_enabled || v.synapse_listener_resources.includes('consent'), {
      path: ['synapse_listener_resources'],
      message: "consent is enabled but the listener does not serve it: set synapse_listener_resources: [client, federation, consent] "
        + '(the synapse role owns the listeners fragment)',
    })
    .refine((v) => v.synapse_consent_enabled || !v.synapse_listener_resources.includes('consent'), {
      path: ['synapse_listener_resources'],
      message: "consent is disabled but synapse_listener_resources still has 'consent': Synapse refuses to start a consent resource "
        + 'without user_consent; remove it from the list',
    })
    .refine((v) => !v.synapse_consent_enabled || !!v.synapse_consent_version, {
      path: ['synapse_consent_version'],
      message: 'the current policy version is needed when consent is enabled, e.g. "1.0"',
    })
    .refine((v) => !v.synapse_consent_enabled || !v.synapse_consent_version || v.synapse_consent_version in v.synapse_consent_policies, {
      path: ['synapse_consent_version'],
      message: 'no document for this version: add it to synapse_consent_policies (version → HTML body)',
    })
    .refine((v) => !v.synapse_consent_enabled || !v.synapse_consent_server_notice_content || v.synapse_server_notices_enabled === true, {
      path: ['synapse_consent_server_notice_content'],
      message: 'a consent server notice needs server notices: add the synapse_server_notices role and set synapse_server_notices_enabled: true',
    }),
  tasks: (v) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    if (!v.synapse_consent_enabled) return [fragment('user_consent', 'synapse_consent', null, flavour)];
    const dir = `${v.synapse_consent_template_dir}/en`;
    const userConsent: Record<string, unknown> = {
      template_dir: v.synapse_consent_template_dir,
      version: v.synapse_consent_version,
      policy_name: v.synapse_consent_policy_name,
      require_at_registration: v.synapse_consent_require_at_registration,
      send_server_notice_to_guests: v.synapse_consent_send_server_notice_to_guests,
    };
    if (v.synapse_consent_block_events_error !== null) userConsent.block_events_error = v.synapse_consent_block_events_error;
    if (v.synapse_consent_server_notice_content) {
      userConsent.server_notice_content = { msgtype: 'm.text', body: v.synapse_consent_server_notice_content };
    }
    // Synapse renders the documents per request (they are read at start): a change restarts it.
    const doc = { mode: 0o644, owner: 'root', group: 'root', notify: RESTART_SYNAPSE };
    return [
      directory({ path: v.synapse_consent_template_dir, mode: 0o755, owner: 'root', group: 'root' }),
      directory({ path: dir, mode: 0o755, owner: 'root', group: 'root' }),
      ...Object.entries(v.synapse_consent_policies).map(([version, body]) =>
        template({ ...doc, path: `${dir}/${version}.html`, src: 'policy.html.ejs', data: { version, body, policy_name: v.synapse_consent_policy_name, jinjaHtmlText } })),
      template({ ...doc, path: `${dir}/success.html`, src: 'success.html.ejs', data: { policy_name: v.synapse_consent_policy_name, jinjaHtmlText } }),
      fragment('user_consent', 'synapse_consent', { user_consent: userConsent }, flavour),
    ];
  },
  // Same handler as the synapse role's (the first one in a play wins).
  handlers: synapseHandlers,
});
