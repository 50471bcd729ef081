// A hand-written nginx site for Synapse read back into the nginx role's variables: the virtual hosts
// of the Matrix names, their certificate, where they proxy to, and the .well-known documents they serve.
import { dumpFiles, parseNginx, type Directive } from './nginx-conf.ts';
import { isRecord, type HostSnapshot, type Kept, type NotImported, type RoleImport } from './model.ts';

type Nginx = NonNullable<HostSnapshot['nginx']>;

/** Server-level directives the role's Matrix server block writes itself: never copied (a duplicate fails nginx -t). */
const ROLE_WRITES = new Set([
  'listen', 'server_name', 'ssl_certificate', 'ssl_certificate_key', 'ssl_protocols', 'ssl_prefer_server_ciphers', 'ssl_session_timeout',
  'ssl_session_cache', 'client_max_body_size', 'proxy_read_timeout', 'proxy_send_timeout', 'proxy_http_version', 'proxy_set_header',
]);
/** Inside the proxied locations: what the role's own locations do (or what nginx does without it). */
const PROXIED_OK = new Set(['proxy_pass', 'proxy_set_header', 'proxy_http_version', 'client_max_body_size', 'proxy_read_timeout', 'proxy_send_timeout', 'proxy_buffering']);

const isMatrixPath = (args: string[]) => /_matrix|_synapse\/client/.test(args.join(' '));
const isWellKnownPath = (args: string[]) => args.join(' ').includes('/.well-known/matrix');
const isAdminPath = (args: string[]) => args.join(' ').includes('/_synapse/admin');
const isAcmePath = (args: string[]) => args.join(' ').includes('/.well-known/acme-challenge');

function seconds(v: string | undefined): number | undefined {
  const m = /^(\d+)(s?|m)$/.exec(v ?? '');
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : undefined;
}

function parseJson(doc: { status: number; body: string } | { error: string } | undefined): Record<string, unknown> | undefined {
  if (!doc || 'error' in doc || doc.status !== 200) return undefined;
  try {
    const j = JSON.parse(doc.body) as unknown;
    return isRecord(j) ? j : undefined;
  } catch {
    return undefined;
  }
}

export function importNginx(n: Nginx, synapse: { serverName: string; matrixHost: string; httpPort: number }): RoleImport {
  const vars: Record<string, unknown> = {};
  const kept: Kept[] = [];
  const notImported: NotImported[] = [];
  const replacedFiles: string[] = [];
  const extra: string[] = [];
  const names = new Set([synapse.serverName, synapse.matrixHost]);
  const say = (d: Directive, why: string) => notImported.push({ file: d.file, line: d.line, key: d.name, why });

  for (const f of dumpFiles(n.dump)) {
    let parsed: Directive[];
    try {
      parsed = parseNginx(f.text, f.path);
    } catch (e) {
      notImported.push({ file: f.path, why: `not read: ${(e as Error).message}` });
      continue;
    }
    const servers = parsed.filter((d) => d.name === 'server' && d.block);
    const ours = servers.filter((s) => s.block!.some((d) => d.name === 'server_name' && d.args.some((a) => names.has(a))));
    if (!ours.length) continue;
    const others = parsed.filter((d) => !ours.includes(d));
    if (others.length) {
      notImported.push({ file: f.path, why: `also holds ${others.map((d) => `${d.name} (line ${d.line})`).join(', ')}: not replaced; the role's virtual hosts for ${[...names].join(', ')} would then be served twice: move the rest to a file of its own and import again` });
      continue;
    }
    replacedFiles.push(f.path);
    const lines = f.text.split('\n');
    const verbatim = (d: Directive) => lines.slice(d.line - 1, d.endLine).join('\n');
    for (const s of ours) {
      const serverNames = s.block!.filter((d) => d.name === 'server_name').flatMap((d) => d.args);
      const tls = s.block!.some((d) => d.name === 'listen' && d.args.some((a) => a === 'ssl' || /(^|:)443$/.test(a) || /(^|:)8448$/.test(a)));
      const matrixTls = tls && serverNames.includes(synapse.matrixHost);
      // The role listens on IPv6 too unless told not to: as the hand-written Matrix server block does.
      if (matrixTls) vars.proxy_listen_ipv6 = s.block!.some((d) => d.name === 'listen' && d.args.some((a) => a.startsWith('[')));
      if (tls && serverNames.includes(synapse.serverName) && synapse.serverName !== synapse.matrixHost) vars.proxy_serve_base_domain = true;
      for (const d of s.block!) {
        if (d.name === 'listen' && d.args.some((a) => /(^|:)8448$/.test(a))) vars.proxy_federation_port = 8448;
        else if (d.name === 'ssl_certificate' && matrixTls) vars.proxy_tls_certificate = d.args[0];
        else if (d.name === 'ssl_certificate_key' && matrixTls) vars.proxy_tls_certificate_key = d.args[0];
        else if ((d.name === 'proxy_read_timeout' || d.name === 'proxy_send_timeout') && matrixTls && seconds(d.args[0])) vars.proxy_upstream_timeout = seconds(d.args[0]);
        else if (ROLE_WRITES.has(d.name)) continue;
        else if (d.name === 'location' && isMatrixPath(d.args)) {
          for (const x of d.block ?? []) {
            if (x.name === 'proxy_pass') {
              const u = /^https?:\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?/.exec(x.args[0] ?? '');
              if (u && !['127.0.0.1', 'localhost', '[::1]'].includes(u[1]!)) vars.proxy_synapse_host = u[1]!.replace(/^\[|\]$/g, '');
              if (u && Number(u[2] ?? 80) !== synapse.httpPort) say(x, `proxies to port ${u[2] ?? 80}, Synapse listens on ${synapse.httpPort}: the role proxies to synapse_http_port`);
            } else if ((x.name === 'proxy_read_timeout' || x.name === 'proxy_send_timeout') && seconds(x.args[0])) vars.proxy_upstream_timeout = seconds(x.args[0]);
            else if (!PROXIED_OK.has(x.name)) say(x, `inside the location for Synapse (${d.args.join(' ')}), which the role writes itself: put a location of your own in nginx_vhost_extra if it is needed`);
          }
        } else if (d.name === 'location' && isAdminPath(d.args)) {
          vars.proxy_synapse_admin = true;
          const allow = (d.block ?? []).filter((x) => x.name === 'allow').flatMap((x) => x.args).filter((a) => a !== 'all');
          if (allow.length) vars.proxy_synapse_admin_allow = allow;
        } else if (d.name === 'location' && isWellKnownPath(d.args)) continue; // its documents are read as served, below
        else if (d.name === 'location' && isAcmePath(d.args)) {
          const root = (d.block ?? []).find((x) => x.name === 'root')?.args[0];
          if (root) vars.proxy_acme_webroot = root;
        } else if (d.name === 'return' && !tls) continue; // the redirect to https, which the role writes too
        else if (d.name === 'location' && !tls && (d.block ?? []).every((x) => x.name === 'return')) continue;
        else if (matrixTls) {
          extra.push(verbatim(d).replace(/^\s+/gm, (w) => w.slice(Math.min(w.length, 4))));
          kept.push({ file: d.file, line: d.line, key: d.name, via: 'nginx_vhost_extra' });
        } else say(d, `in the server block for ${serverNames.join(' ')}, which the role writes itself: no variable keeps it`);
      }
    }
    // A sites-enabled link to the file goes with it (and the file it points to).
    for (const [link, target] of Object.entries(n.links)) {
      if (link === f.path && target !== f.path) replacedFiles.push(target);
      if (target === f.path && link !== f.path) replacedFiles.push(link);
    }
  }
  if (extra.length) vars.nginx_vhost_extra = extra.join('\n') + '\n';
  const replaced = [...new Set(replacedFiles)];
  if (replaced.length) vars.proxy_replaced_files = replaced;

  // .well-known as clients and servers get it: what the role is to publish.
  const wk = n.wellKnown[synapse.serverName] ?? {};
  const client = parseJson(wk.client);
  if (client) {
    const jitsi = client['im.vector.riot.jitsi'];
    if (isRecord(jitsi) && typeof jitsi.preferredDomain === 'string') vars.jitsi_domain = jitsi.preferredDomain;
    const rest = Object.fromEntries(Object.entries(client).filter(([k]) => k !== 'm.homeserver' && k !== 'im.vector.riot.jitsi'));
    if (Object.keys(rest).length) vars.proxy_well_known_client_extra = rest;
  }
  const support = parseJson(wk.support);
  if (support) {
    if (Array.isArray(support.contacts)) vars.proxy_support_contacts = support.contacts;
    if (typeof support.support_page === 'string') vars.proxy_support_page = support.support_page;
  }
  if (!parseJson(wk.server)) notImported.push({ file: `https://${synapse.serverName}/.well-known/matrix/server`, why: 'not served from this host: publish the documents the role writes on the base domain yourself, or set proxy_serve_base_domain' });
  return { role: 'nginx', vars, kept, notImported, replacedFiles: replaced };
}
