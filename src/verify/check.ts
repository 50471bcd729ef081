/**
 * What a role declares about its service as seen from outside (`verify` in defineRole): each check
 * is one question a user or another server would ask, answered by `mxplay verify` from the control
 * machine. Expectations return what they saw, for the table, or throw why it is wrong.
 */

/** One HTTP answer: lower-case header names, the body, and the body as JSON when it is JSON. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json?: any;
}

export type Probe =
  /** One request; redirects are not followed (a redirect can be what is expected). */
  | { kind: 'http'; url: string; method?: 'GET' | 'POST'; body?: unknown; expect: (a: HttpAnswer) => string }
  /** A STUN Binding request (RFC 5389) over UDP to this host: what a WebRTC client asks first. */
  | { kind: 'stun'; port: number }
  /** A TCP connection to this host accepted. */
  | { kind: 'tcp'; port: number }
  /** Federation as another homeserver finds it: delegation (.well-known/matrix/server), then the
   * server's version and signing keys through the delegated name and port. */
  | { kind: 'federation'; serverName: string }
  /** A password login through the client API (then the session is logged out again). */
  | { kind: 'login'; baseUrl: string; user: string; password: string };

export interface Check {
  /** What is checked, as a user would say it. */
  what: string;
  probe: Probe;
}

/** A check of a host's role, as the build keeps it. */
export interface HostCheck extends Check {
  role: string;
  /** Chosen by -t/--skip-tags; a check left out still says which names its host serves. */
  selected: boolean;
}
