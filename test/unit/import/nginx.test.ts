// A hand-written nginx site read back into the nginx role's variables.
import { describe, expect, it } from 'vitest';
import { dumpFiles, parseNginx } from '../../../src/import/nginx-conf.ts';
import { importNginx } from '../../../src/import/nginx.ts';

describe('parseNginx', () => {
  it('reads directives, quoted words with ; { } inside, blocks and their lines', () => {
    const d = parseNginx('server {\n  add_header X "a;b {c}" always; # note\n  location /x {\n    return 200 \'{"k": 1}\';\n  }\n}\n', 'f');
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ name: 'server', line: 1, endLine: 6 });
    expect(d[0]!.block!.map((x) => [x.name, x.args, x.line, x.endLine])).toEqual([
      ['add_header', ['X', 'a;b {c}', 'always'], 2, 2],
      ['location', ['/x'], 3, 5],
    ]);
    expect(d[0]!.block![1]!.block![0]!.args).toEqual(['200', '{"k": 1}']);
  });
  it.each([['an unclosed block', 'server {'], ['a stray brace', '}'], ['a directive without ;', 'listen 80']])('refuses %s', (_, text) => {
    expect(() => parseNginx(text, 'f')).toThrow();
  });
  it('splits nginx -T into its files', () => {
    expect(dumpFiles('# configuration file /a:\nx;\n\n# configuration file /b:\ny;\n').map((f) => f.path)).toEqual(['/a', '/b']);
  });
});

const site = (body: string, path = '/etc/nginx/sites-enabled/matrix') => `# configuration file /etc/nginx/nginx.conf:\nhttp { include /etc/nginx/sites-enabled/*; }\n\n# configuration file ${path}:\n${body}`;
const MATRIX = `server {
    listen 80;
    server_name matrix.example.org;
    return 301 https://$host$request_uri;
}
server {
    listen 443 ssl;
    listen 8448 ssl;
    server_name matrix.example.org;
    ssl_certificate /etc/ssl/m.crt;
    ssl_certificate_key /etc/ssl/m.key;
    client_max_body_size 50M;
    add_header X-Handmade "yes" always;
    location ~ ^(/_matrix|/_synapse/client) {
        proxy_pass http://10.0.0.9:8008;
        proxy_read_timeout 600s;
        gzip off;
    }
    location /_synapse/admin {
        allow 10.0.0.0/8;
        deny all;
        proxy_pass http://10.0.0.9:8008;
    }
    location /.well-known/matrix/server { return 200 '{"m.server": "matrix.example.org:443"}'; }
}
`;
const doc = (o: unknown) => ({ status: 200, body: JSON.stringify(o) });
const wellKnown = {
  'example.org': {
    server: doc({ 'm.server': 'matrix.example.org:443' }),
    client: doc({ 'm.homeserver': { base_url: 'https://matrix.example.org' }, 'im.vector.riot.jitsi': { preferredDomain: 'meet.example.org' }, 'm.tile_server': { map_style_url: 'https://t/' } }),
    support: doc({ contacts: [{ role: 'm.role.admin', email_address: 'a@example.org' }], support_page: 'https://example.org/help' }),
  },
};
const names = { serverName: 'example.org', matrixHost: 'matrix.example.org', httpPort: 8008 };
const links = { '/etc/nginx/sites-enabled/matrix': '/etc/nginx/sites-available/matrix' };

describe('importNginx', () => {
  const r = importNginx({ dump: site(MATRIX), ok: true, err: '', wellKnown, links }, names);
  it('maps the certificate, upstream, federation port, timeouts, admin API and .well-known documents', () => {
    expect(r.vars).toMatchObject({
      proxy_tls_certificate: '/etc/ssl/m.crt', proxy_tls_certificate_key: '/etc/ssl/m.key', proxy_federation_port: 8448,
      proxy_synapse_host: '10.0.0.9', proxy_upstream_timeout: 600, proxy_synapse_admin: true, proxy_synapse_admin_allow: ['10.0.0.0/8'],
      proxy_listen_ipv6: false, jitsi_domain: 'meet.example.org', proxy_well_known_client_extra: { 'm.tile_server': { map_style_url: 'https://t/' } },
      proxy_support_contacts: [{ role: 'm.role.admin', email_address: 'a@example.org' }], proxy_support_page: 'https://example.org/help',
    });
  });
  it('keeps a server-level directive no variable covers, verbatim, through nginx_vhost_extra', () => {
    expect(r.vars.nginx_vhost_extra).toBe('add_header X-Handmade "yes" always;\n');
    expect(r.kept).toEqual([{ file: '/etc/nginx/sites-enabled/matrix', line: 13, key: 'add_header', via: 'nginx_vhost_extra' }]);
  });
  it('reports a directive inside the location the role writes itself, with file and line', () => {
    expect(r.notImported).toEqual([expect.objectContaining({ file: '/etc/nginx/sites-enabled/matrix', line: 17, key: 'gzip' })]);
  });
  it('replaces the site file and the file its sites-enabled link points to', () => {
    expect(r.vars.proxy_replaced_files).toEqual(['/etc/nginx/sites-enabled/matrix', '/etc/nginx/sites-available/matrix']);
  });
  it('does not replace a file that also serves other names: says so', () => {
    const x = importNginx({ dump: site(`${MATRIX}server {\n    listen 443 ssl;\n    server_name blog.example.org;\n}\n`), ok: true, err: '', wellKnown, links: {} }, names);
    expect(x.replacedFiles).toEqual([]);
    expect(x.notImported[0]!.why).toContain('server (line 26)');
  });
  it('says when the base domain does not serve .well-known/matrix/server from this host', () => {
    const x = importNginx({ dump: site(MATRIX), ok: true, err: '', wellKnown: {}, links }, names);
    expect(x.notImported.map((n) => n.file)).toContain('https://example.org/.well-known/matrix/server');
  });
});
