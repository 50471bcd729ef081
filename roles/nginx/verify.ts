// What a proxy serves, checked as its users meet it (mxplay verify): clients, other homeservers,
// browsers. Shared by the nginx and apache roles, as proxy.ts is. The web apps on their own names
// are checked by their roles (element_web, synapse_admin).
import { expect, type Check } from 'mxplay';
import { site, type ProxyVars } from './proxy.ts';

export function proxyChecks(v: ProxyVars, proxy: string): Check[] {
  const s = site(v);
  const baseUrl = v.synapse_public_baseurl.replace(/\/+$/, '');
  const api = `https://${s.matrixDomain}/_matrix/client/versions`;
  // Clients ask the server name; when this proxy does not serve it, its copy on the Matrix name is checked.
  const wellKnownHost = s.baseVhost || s.baseDomain === s.matrixDomain ? s.baseDomain : s.matrixDomain;
  return [
    { what: `Matrix client API via ${proxy}`, probe: { kind: 'http', url: api, expect: expect.expectClientVersions } },
    { what: 'plain http redirects to https', probe: { kind: 'http', url: api.replace(/^https:/, 'http:'), expect: expect.expectRedirect(api) } },
    {
      what: 'client discovery: .well-known/matrix/client',
      probe: { kind: 'http', url: `https://${wellKnownHost}/.well-known/matrix/client`, expect: expect.expectWellKnownClient(baseUrl) },
    },
    {
      what: 'delegation: .well-known/matrix/server',
      probe: { kind: 'http', url: `https://${wellKnownHost}/.well-known/matrix/server`, expect: expect.expectWellKnownServer(`${s.matrixDomain}:${v.proxy_federation_port}`) },
    },
    // What another homeserver does: resolve the server name, then ask version and keys there.
    { what: 'federation, as other servers find it', probe: { kind: 'federation', serverName: v.synapse_server_name } },
    ...(s.jitsi ? [{ what: 'Jitsi Meet', probe: { kind: 'http', url: `https://${s.jitsi.domain}/`, expect: expect.expectStatus(200) } } as const] : []),
  ];
}
