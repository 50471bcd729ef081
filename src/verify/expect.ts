// Expectations for http checks: each returns what it saw (a short line for the table) or throws
// the reason, saying what was wanted.
import type { HttpAnswer } from './check.ts';

/** A body in one short line: an HTML error page by its title. */
export function snippet(s: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(s)?.[1];
  const one = (title ?? s).replace(/\s+/g, ' ').trim();
  return one.length > 70 ? `${one.slice(0, 69)}…` : one;
}

function want(a: HttpAnswer, status: number): void {
  if (a.status !== status) throw new Error(`HTTP ${a.status}, wanted ${status}${a.body ? `: ${snippet(a.body)}` : ''}`);
}

export function expectStatus(status: number) {
  return (a: HttpAnswer): string => {
    want(a, status);
    return String(status);
  };
}

/** GET /_matrix/client/versions: what every client asks first. */
export function expectClientVersions(a: HttpAnswer): string {
  want(a, 200);
  const v = a.json?.versions;
  if (!Array.isArray(v) || v.length === 0) throw new Error(`200 but no "versions" list: ${snippet(a.body)}`);
  return `200, spec versions ${v[0]} … ${v[v.length - 1]}`;
}

/** A .well-known document: 200, JSON, served as JSON (clients check the type). */
function wellKnown(a: HttpAnswer): any {
  want(a, 200);
  if (!/^application\/json\b/.test(a.headers['content-type'] ?? '')) throw new Error(`Content-Type ${a.headers['content-type'] ?? '(none)'}, wanted application/json`);
  if (a.json === undefined) throw new Error(`not JSON: ${snippet(a.body)}`);
  return a.json;
}

export function expectWellKnownServer(server: string) {
  return (a: HttpAnswer): string => {
    const got = wellKnown(a)['m.server'];
    if (got !== server) throw new Error(`m.server is ${JSON.stringify(got)}, wanted ${server}`);
    return `200, m.server ${got}`;
  };
}

/** Web clients read it from another origin: without CORS they cannot discover the homeserver. */
export function expectWellKnownClient(baseUrl: string) {
  return (a: HttpAnswer): string => {
    const got = wellKnown(a)['m.homeserver']?.base_url;
    if (got !== baseUrl) throw new Error(`m.homeserver.base_url is ${JSON.stringify(got)}, wanted ${baseUrl}`);
    if (a.headers['access-control-allow-origin'] !== '*') {
      throw new Error(`Access-Control-Allow-Origin is ${a.headers['access-control-allow-origin'] ?? '(none)'}, wanted *: web clients on other names cannot read it`);
    }
    return `200, base_url ${got}`;
  };
}

export function expectRedirect(location: string) {
  return (a: HttpAnswer): string => {
    if (a.status !== 301 && a.status !== 308) throw new Error(`HTTP ${a.status}, wanted a redirect (301)`);
    if (a.headers.location !== location) throw new Error(`${a.status} to ${a.headers.location ?? '(no Location)'}, wanted ${location}`);
    return `${a.status} → ${location}`;
  };
}

/** Element's config.json names the homeserver the web client talks to. */
export function expectElementConfig(baseUrl: string) {
  return (a: HttpAnswer): string => {
    want(a, 200);
    const got = a.json?.default_server_config?.['m.homeserver']?.base_url;
    if (!got) throw new Error(`200 but no default_server_config.m.homeserver.base_url: ${snippet(a.body)}`);
    if (got !== baseUrl) throw new Error(`base_url is ${got}, wanted ${baseUrl}`);
    return `200, homeserver ${got}`;
  };
}

/** synapse-admin answers only to the networks the inventory allows: 403 from elsewhere is right. */
export function expectAdminApp(a: HttpAnswer): string {
  if (a.status === 403) return '403: this machine is not in synapse_admin_allow_networks (as configured)';
  want(a, 200);
  return '200';
}
