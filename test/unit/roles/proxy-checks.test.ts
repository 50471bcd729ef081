// What `mxplay verify` asks of a proxy host, from its variables: table-driven.
import { describe, expect, it } from 'vitest';
import nginxRole from '../../../roles/nginx/role.ts';
import { proxyChecks } from '../../../roles/nginx/verify.ts';

const vars = (o: Record<string, unknown> = {}) => nginxRole.vars.parse({
  synapse_server_name: 'example.com',
  synapse_public_baseurl: 'https://matrix.example.com/',
  proxy_tls_self_signed: true,
  ...o,
});
const where = (o: Record<string, unknown>) => proxyChecks(vars(o) as never, 'nginx').map((c) => {
  const p = c.probe;
  return `${c.what} | ${p.kind === 'http' ? p.url : p.kind === 'federation' ? p.serverName : p.kind}`;
});

describe('the checks a proxy host declares', () => {
  it.each([
    {
      name: 'the base domain served elsewhere: .well-known checked on the Matrix name, federation by the server name',
      o: {},
      want: [
        'Matrix client API via nginx | https://matrix.example.com/_matrix/client/versions',
        'plain http redirects to https | http://matrix.example.com/_matrix/client/versions',
        'client discovery: .well-known/matrix/client | https://matrix.example.com/.well-known/matrix/client',
        'delegation: .well-known/matrix/server | https://matrix.example.com/.well-known/matrix/server',
        'federation, as other servers find it | example.com',
      ],
    },
    {
      name: 'the base domain served here, and Jitsi (web apps are their roles\' checks)',
      o: { proxy_serve_base_domain: true, element_domain: 'element.example.com', synapse_admin_domain: 'admin.example.com', proxy_serve_jitsi: true, jitsi_domain: 'meet.example.com' },
      want: [
        'Matrix client API via nginx | https://matrix.example.com/_matrix/client/versions',
        'plain http redirects to https | http://matrix.example.com/_matrix/client/versions',
        'client discovery: .well-known/matrix/client | https://example.com/.well-known/matrix/client',
        'delegation: .well-known/matrix/server | https://example.com/.well-known/matrix/server',
        'federation, as other servers find it | example.com',
        'Jitsi Meet | https://meet.example.com/',
      ],
    },
  ])('$name', ({ o, want }) => {
    expect(where(o)).toEqual(want);
  });

  it('the delegation it expects follows proxy_federation_port', () => {
    const c = proxyChecks(vars({ proxy_federation_port: 8448 }) as never, 'nginx').find((x) => x.what.startsWith('delegation'))!;
    if (c.probe.kind !== 'http') throw new Error('not http');
    expect(() => c.probe.kind === 'http' && c.probe.expect({ status: 200, headers: { 'content-type': 'application/json' }, body: '', json: { 'm.server': 'matrix.example.com:443' } }))
      .toThrow('m.server is "matrix.example.com:443", wanted matrix.example.com:8448');
  });
});
