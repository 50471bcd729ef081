// coturn_extra_options: raw turnserver.conf lines for what no variable of the role covers (a
// hand-written turnserver.conf taken over by mxplay import keeps them). Options the role's template
// writes are refused: coturn takes the last of two values for some and adds up others, so a second
// copy would silently change what the role's variable says.
import { z, TURNSERVER_LINE_MAX } from 'mxplay';

/** Every option templates/turnserver.conf.ejs writes, with what sets it (checked against the template by a unit test). */
export const COTURN_OWN_OPTIONS: Readonly<Record<string, string>> = {
  'listening-port': 'coturn_listening_port',
  'tls-listening-port': 'coturn_tls_listening_port',
  cert: 'coturn_tls_cert',
  pkey: 'coturn_tls_key',
  'no-tls': 'coturn_tls_cert and coturn_tls_key (TLS is off without them)',
  'listening-ip': 'coturn_listening_ips',
  'external-ip': 'coturn_external_ip',
  'min-port': 'coturn_min_port',
  'max-port': 'coturn_max_port',
  realm: 'coturn_realm',
  'use-auth-secret': 'coturn_shared_secret (the role always uses the shared secret)',
  'static-auth-secret': 'coturn_shared_secret',
  'allowed-peer-ip': 'coturn_allowed_peer_ips',
  'denied-peer-ip': 'coturn_denied_peer_ips',
  'user-quota': 'coturn_user_quota',
  'total-quota': 'coturn_total_quota',
  fingerprint: 'nothing: the role always writes it',
  'no-tcp-relay': 'nothing: the role always writes it',
  'no-multicast-peers': 'nothing: the role always writes it',
  'no-cli': 'nothing: the role always writes it',
  'no-software-attribute': 'nothing: the role always writes it',
  syslog: 'nothing: the role always writes it',
};

/** The option a line sets, as coturn reads it: its name before `=` or a blank, without leading dashes. */
export function optionName(line: string): string {
  return /^\s*-{0,2}([^=\s]*)/.exec(line)![1]!.toLowerCase();
}

/** Why a line cannot be an extra option, or undefined when it can. */
export function extraOptionProblem(line: string): string | undefined {
  if (/[\0\r\n]/.test(line)) return 'one line of turnserver.conf: no line break or NUL';
  if (Buffer.byteLength(line) > TURNSERVER_LINE_MAX) return `at most ${TURNSERVER_LINE_MAX} bytes (coturn would read the rest as another option)`;
  if (line.trim() === '' || line.trim().startsWith('#')) return 'a blank line or a comment: nothing for coturn to keep (the role writes its own comments)';
  const name = optionName(line);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return `no option name coturn knows at its start (an option like stale-nonce=600 or a flag like no-stun)`;
  if (Object.hasOwn(COTURN_OWN_OPTIONS, name)) return `the role writes ${name} itself: set it with ${COTURN_OWN_OPTIONS[name]}, not here`;
  return undefined;
}

export const extraOptionsVar = z.array(z.string()).default([])
  .superRefine((lines, ctx) => {
    lines.forEach((line, i) => {
      const problem = extraOptionProblem(line);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
    });
  })
  .describe("raw turnserver.conf lines, by design: written verbatim after the role's own options (option=value or a flag; whoever writes them writes config, and coturn only logs a line it cannot read). Options the role writes are refused, naming their variable; so are blank and comment lines");
