// Static web apps the proxies serve on their own virtual hosts: Element web (role element_web) and
// synapse-admin (role synapse_admin). The app roles unpack a release under <dir>/versions/ with the
// link <dir>/current, and write <dir>/config.json beside it: the proxy serves current/ as the
// document root and /config.json from that file, so switching versions never loses the config.
//
// The variables below are shared (same names, same schemas) by the app roles and the proxy roles:
// one value on a host drives both. In the proxy roles an unset domain means "no such vhost".
import {
  z, apt, directory, file, release, template, hostName, ipOrCidr, absolutePath, nginxString, nginxLiteral, apacheString, type Task,
} from 'mxplay';
import type { ProxySite } from './proxy.ts';

/** The encoders the proxy templates quote values with (src/resources/config-text.ts). */
export const templateEncoders = { nginxString, nginxLiteral, apacheString };

export const hostname = hostName('element.example.com');

/** The pieces of an app role's release variables (see the release resource). */
export const releaseSchemas = {
  version: z.string().regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/, 'letters, digits and . _ + - (it names a folder)'),
  tarball: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (sha256sum of the tarball)').transform((s) => s.toLowerCase()),
  keep: z.number().int().min(1).default(2),
};

export const webAppVars = {
  element_domain: hostname.optional()
    .describe('host name of the Element web virtual host (its own name, not the Matrix host)'),
  element_web_dir: absolutePath.default('/var/www/element')
    .describe('holds versions/<version>/, the link current and config.json'),
  synapse_admin_domain: hostname.optional()
    .describe('host name of the synapse-admin virtual host'),
  synapse_admin_dir: absolutePath.default('/var/www/synapse-admin')
    .describe('holds versions/<version>/, the link current and config.json'),
  synapse_admin_allow_networks: z.array(ipOrCidr).default([])
    .describe('addresses or networks that may load synapse-admin; the host itself (loopback) always may; empty: nobody else'),
};

type WebAppVars = {
  element_domain?: string | undefined;
  element_web_dir: string;
  synapse_admin_domain?: string | undefined;
  synapse_admin_dir: string;
};

/** The app domains, for the proxy's certificate and its port-80 redirects. */
export function webAppNames(v: WebAppVars): string[] {
  return [v.element_domain, v.synapse_admin_domain].filter((n): n is string => !!n);
}

/**
 * An app needs a name of its own: on the Matrix host's name (or Jitsi's) it would shadow (nginx) or
 * be shadowed by (apache) that virtual host. For the proxy roles' schemas (`.superRefine`).
 */
export function webAppDomainsCheck(
  v: WebAppVars & {
    synapse_public_baseurl: string;
    synapse_server_name: string;
    proxy_serve_base_domain: boolean;
    proxy_serve_jitsi: boolean;
    jitsi_domain?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  let matrix: string;
  try {
    matrix = new URL(v.synapse_public_baseurl).hostname;
  } catch {
    return; // reported on synapse_public_baseurl itself
  }
  const taken = new Map([[matrix, 'the Matrix virtual host (synapse_public_baseurl)']]);
  if (v.proxy_serve_base_domain) taken.set(v.synapse_server_name, 'the base domain virtual host');
  if (v.proxy_serve_jitsi && v.jitsi_domain) taken.set(v.jitsi_domain, 'the Jitsi virtual host (jitsi_domain)');
  for (const key of ['element_domain', 'synapse_admin_domain'] as const) {
    const name = v[key];
    if (!name) continue;
    const by = taken.get(name);
    if (by) ctx.addIssue({ code: 'custom', path: [key], message: `${name} is already served by ${by}: give the app a name of its own` });
    else taken.set(name, key);
  }
}

/**
 * The proxy's vhost files for the apps, in `confDir` (nginx conf.d/, apache sites-enabled/): each
 * present only while its domain is set. They join the proxy's validation set.
 */
export function webAppSites(confDir: string, s: ProxySite, v: WebAppVars, o: { validate: string; notify: string }): Task[] {
  const site = (name: string, domain: string | undefined, dir: string) => {
    // Named to sort after mxplay-matrix.conf: the first vhost read is the default one (no SNI,
    // unknown names), and that stays the Matrix host.
    const path = `${confDir}/mxplay-web-${name}.conf`;
    return domain
      ? template({ path, src: `${name}.conf.ejs`, data: { site: s, domain, dir, ...templateEncoders }, ...o })
      : file({ path, state: 'absent', ...o });
  };
  return [
    site('element', v.element_domain, v.element_web_dir),
    site('synapse-admin', v.synapse_admin_domain, v.synapse_admin_dir),
  ];
}

/** What an app role converges: its folder, the release (curl first when it is fetched), config.json. */
export function staticApp(o: {
  dir: string;
  version: string;
  tarball: string;
  sha256: string;
  keep: number;
  config: Record<string, unknown>;
  keys: { source: string; sha256: string };
}): Task[] {
  const fetched = /^https?:\/\//i.test(o.tarball);
  return [
    fetched && apt({ names: ['curl'] }),
    directory({ path: o.dir, mode: 0o755 }),
    release({ dir: o.dir, version: o.version, source: o.tarball, sha256: o.sha256, keep: o.keep, keys: o.keys }),
    file({ path: `${o.dir}/config.json`, content: `${JSON.stringify(o.config, null, 2)}\n`, mode: 0o644, kind: 'json' }),
  ];
}
