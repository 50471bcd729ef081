import { defineRole, z, secret } from 'mxplay';
import { FLAVOURS, fragment, synapseSharedVars, synapseHandlers } from '../synapse/fragment.ts';

/**
 * Synapse's `email:` block (SMTP relay, sender, validation mails, notifications) in its own conf.d
 * fragment. The fragment always holds the SMTP password when one is set, so it is readable by
 * Synapse's user only (SECRET_FRAGMENT).
 */
export default defineRole({
  name: 'synapse_email',
  description: "Synapse's email: block (SMTP, sender, validation mails, notifications) in conf.d/email.yaml",
  vars: z.object({
    synapse_email_enabled: z.boolean().default(true).describe('false removes the email fragment (Synapse sends no mail)'),
    synapse_email_smtp_host: z.string().min(1).default('localhost').describe('SMTP relay host'),
    synapse_email_smtp_port: z.number().int().min(1).max(65535).default(25).describe('SMTP relay port (465 with force_tls, 587 for STARTTLS)'),
    synapse_email_smtp_user: z.string().min(1).optional().describe('SMTP login; unset: no authentication'),
    synapse_email_smtp_pass: secret().optional().describe('SMTP password (with smtp_user)'),
    synapse_email_force_tls: z.boolean().default(false).describe('implicit TLS from the first byte (port 465); needs enable_tls'),
    synapse_email_require_transport_security: z.boolean().default(false).describe('refuse to send unless STARTTLS succeeds'),
    synapse_email_enable_tls: z.boolean().default(true).describe('use TLS when the server offers it (false: never)'),
    synapse_email_notif_from: z.string()
      .regex(/<[^<>@\s]+@[^<>@\s]+>\s*$|^[^<>@\s]+@[^<>@\s]+$/, 'an address like "%(app)s <noreply@example.com>"')
      .optional().describe('From: of every mail; %(app)s is replaced by app_name. Required when enabled'),
    synapse_email_app_name: z.string().min(1).default('Matrix').describe('the name in subjects and in %(app)s'),
    synapse_email_client_base_url: z.url().optional().describe("the web client linked from notification mails (Synapse's default: https://app.element.io)"),
    synapse_email_validation_token_lifetime: z.string().regex(/^\d+(ms|s|m|h|d|w|y)?$/, 'a duration like 1h or 15m').default('1h')
      .describe('how long the link in a validation mail stays valid'),
    synapse_email_enable_notifs: z.boolean().default(false).describe('mail users about unread messages'),
    ...synapseSharedVars,
  })
    .refine((v) => !v.synapse_email_enabled || !!v.synapse_email_notif_from, {
      path: ['synapse_email_notif_from'],
      message: 'the sender address is needed when email is enabled, e.g. "%(app)s <noreply@example.com>"',
    })
    .refine((v) => !v.synapse_email_smtp_pass || !!v.synapse_email_smtp_user, {
      path: ['synapse_email_smtp_user'],
      message: 'an SMTP password needs its user (synapse_email_smtp_user)',
    })
    .refine((v) => !v.synapse_email_smtp_user || !!v.synapse_email_smtp_pass, {
      path: ['synapse_email_smtp_user'],
      message: 'an SMTP user needs its password (synapse_email_smtp_pass): Synapse would try to log in without one',
    })
    .refine((v) => !v.synapse_email_force_tls || v.synapse_email_enable_tls, {
      path: ['synapse_email_force_tls'],
      message: 'force_tls needs synapse_email_enable_tls: true',
    })
    .refine((v) => !v.synapse_email_require_transport_security || v.synapse_email_enable_tls, {
      path: ['synapse_email_require_transport_security'],
      message: 'require_transport_security needs synapse_email_enable_tls: true',
    }),
  tasks: (v) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    if (!v.synapse_email_enabled) return [fragment('email', 'synapse_email', null, flavour)];
    const email: Record<string, unknown> = {
      smtp_host: v.synapse_email_smtp_host,
      smtp_port: v.synapse_email_smtp_port,
      force_tls: v.synapse_email_force_tls,
      require_transport_security: v.synapse_email_require_transport_security,
      enable_tls: v.synapse_email_enable_tls,
      notif_from: v.synapse_email_notif_from,
      app_name: v.synapse_email_app_name,
      enable_notifs: v.synapse_email_enable_notifs,
      validation_token_lifetime: v.synapse_email_validation_token_lifetime,
    };
    if (v.synapse_email_smtp_user) email.smtp_user = v.synapse_email_smtp_user;
    if (v.synapse_email_smtp_pass) email.smtp_pass = v.synapse_email_smtp_pass;
    if (v.synapse_email_client_base_url) email.client_base_url = v.synapse_email_client_base_url;
    return [fragment('email', 'synapse_email', { email }, flavour, { secret: true })];
  },
  // The synapse role defines the same handler (the first one in a play wins); this one makes the
  // role usable in a play of its own against a host where Synapse is already installed.
  handlers: synapseHandlers,
});
