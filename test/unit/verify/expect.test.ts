import { describe, expect, it } from 'vitest';
import type { HttpAnswer } from '../../../src/verify/check.ts';
import {
  expectAdminApp, expectClientVersions, expectElementConfig, expectRedirect, expectStatus, expectWellKnownClient, expectWellKnownServer, snippet,
} from '../../../src/verify/expect.ts';

const json = (status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json', 'access-control-allow-origin': '*' }): HttpAnswer =>
  ({ status, headers, body: JSON.stringify(body), json: body });
const html = (status: number, title: string): HttpAnswer => ({ status, headers: { 'content-type': 'text/html' }, body: `<html><head><title>${title}</title></head><body>…</body></html>` });

describe('what each check accepts, and what it says when it does not', () => {
  it.each([
    { name: 'client versions', f: expectClientVersions, a: json(200, { versions: ['r0.0.1', 'v1.12'] }), ok: '200, spec versions r0.0.1 … v1.12' },
    { name: 'client versions: an error page', f: expectClientVersions, a: html(502, '502 Bad Gateway'), err: 'HTTP 502, wanted 200: 502 Bad Gateway' },
    { name: 'client versions: no list', f: expectClientVersions, a: json(200, { versions: [] }), err: '200 but no "versions" list' },
    { name: 'm.server as wanted', f: expectWellKnownServer('matrix.example.com:443'), a: json(200, { 'm.server': 'matrix.example.com:443' }), ok: '200, m.server matrix.example.com:443' },
    { name: 'm.server elsewhere', f: expectWellKnownServer('matrix.example.com:443'), a: json(200, { 'm.server': 'old.example.com:8448' }), err: 'm.server is "old.example.com:8448", wanted matrix.example.com:443' },
    { name: 'm.server as text/plain', f: expectWellKnownServer('m:443'), a: json(200, { 'm.server': 'm:443' }, { 'content-type': 'text/plain' }), err: 'Content-Type text/plain, wanted application/json' },
    { name: 'base_url as wanted, CORS open', f: expectWellKnownClient('https://matrix.example.com'), a: json(200, { 'm.homeserver': { base_url: 'https://matrix.example.com' } }), ok: '200, base_url https://matrix.example.com' },
    { name: 'base_url wrong', f: expectWellKnownClient('https://matrix.example.com'), a: json(200, { 'm.homeserver': { base_url: 'https://matrix.example.org' } }), err: 'm.homeserver.base_url is "https://matrix.example.org", wanted https://matrix.example.com' },
    {
      name: 'base_url right but no CORS',
      f: expectWellKnownClient('https://m.example.com'),
      a: json(200, { 'm.homeserver': { base_url: 'https://m.example.com' } }, { 'content-type': 'application/json' }),
      err: 'Access-Control-Allow-Origin is (none), wanted *',
    },
    { name: 'redirect as wanted', f: expectRedirect('https://m.example.com/x'), a: { status: 301, headers: { location: 'https://m.example.com/x' }, body: '' }, ok: '301 → https://m.example.com/x' },
    { name: 'redirect elsewhere', f: expectRedirect('https://m.example.com/x'), a: { status: 301, headers: { location: 'https://other/x' }, body: '' }, err: '301 to https://other/x, wanted https://m.example.com/x' },
    { name: 'no redirect', f: expectRedirect('https://m/x'), a: { status: 200, headers: {}, body: 'hi' }, err: 'HTTP 200, wanted a redirect (301)' },
    { name: "Element's homeserver", f: expectElementConfig('https://m.example.com'), a: json(200, { default_server_config: { 'm.homeserver': { base_url: 'https://m.example.com' } } }), ok: '200, homeserver https://m.example.com' },
    { name: "Element's homeserver wrong", f: expectElementConfig('https://m.example.com'), a: json(200, { default_server_config: { 'm.homeserver': { base_url: 'https://x.example.com' } } }), err: 'base_url is https://x.example.com, wanted https://m.example.com' },
    { name: 'Element without a homeserver', f: expectElementConfig('https://m'), a: json(200, { brand: 'Element' }), err: '200 but no default_server_config.m.homeserver.base_url' },
    { name: 'synapse-admin served', f: expectAdminApp, a: html(200, 'Synapse-Admin'), ok: '200' },
    { name: 'synapse-admin closed to this machine', f: expectAdminApp, a: html(403, 'Forbidden'), ok: '403: this machine is not in synapse_admin_allow_networks (as configured)' },
    { name: 'synapse-admin missing', f: expectAdminApp, a: html(404, 'Not Found'), err: 'HTTP 404, wanted 200: Not Found' },
    { name: 'a status', f: expectStatus(200), a: html(200, 'Jitsi Meet'), ok: '200' },
  ] as { name: string; f: (a: HttpAnswer) => string; a: HttpAnswer; ok?: string; err?: string }[])('$name', ({ f, a, ok, err }) => {
    if (ok !== undefined) expect(f(a)).toBe(ok);
    else expect(() => f(a)).toThrow(err);
  });

  it('a long body is cut to one short line', () => {
    expect(snippet(`a\n\n${'b'.repeat(100)}`)).toBe(`a ${'b'.repeat(67)}…`);
  });
});
