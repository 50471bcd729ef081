// proxy_replaced_files: the hand-written site files a proxy role's virtual hosts replace (mxplay
// import of a hand-built host), removed in the same validation set as the role's own files, so the
// proxy never serves both sites or neither, and a set its check refuses is never swapped in.
import { z, absolutePath, file, type Resource } from 'mxplay';

export const replacedFilesVar = z.array(absolutePath).default([])
  .describe("hand-written site files (or sites-enabled symlinks) in the proxy's config folder that the role's virtual hosts replace, e.g. /etc/nginx/sites-enabled/matrix and /etc/nginx/sites-available/matrix: removed together with writing the role's files and checked with them (nginx -t / apache2ctl configtest) before the reload; restored if the check fails. A path not there is already removed");

/** What a proxy role owns: its config folder, and the files in it that are its own. */
export interface ProxyFiles {
  role: 'nginx' | 'apache';
  root: '/etc/nginx/' | '/etc/apache2/';
  /** Why a path is the role's own (it writes or removes it itself), or undefined. */
  own: (path: string) => string | undefined;
}

export const NGINX_FILES: ProxyFiles = {
  role: 'nginx',
  root: '/etc/nginx/',
  own: (p) => (/^\/etc\/nginx\/conf\.d\/mxplay-/.test(p) ? 'a file of the role itself (conf.d/mxplay-*)' : p === '/etc/nginx/sites-enabled/default' ? 'the default site, which the role removes itself' : undefined),
};

export const APACHE_FILES: ProxyFiles = {
  role: 'apache',
  root: '/etc/apache2/',
  own: (p) =>
    /^\/etc\/apache2\/sites-enabled\/mxplay-/.test(p) ? 'a file of the role itself (sites-enabled/mxplay-*)'
    : p === '/etc/apache2/sites-enabled/000-default.conf' ? 'the default site, which the role removes itself'
    : /^\/etc\/apache2\/mods-(enabled|available)\//.test(p) ? 'a module file: the role enables the modules it needs (a2enmod), and removing one would undo that at every run'
    : undefined,
};

/** The schema check, per role (each has its own folder): the key and the path in every error. */
export function replacedFilesCheck(files: ProxyFiles) {
  return (v: { proxy_replaced_files: string[] }, ctx: z.RefinementCtx): void => {
    v.proxy_replaced_files.forEach((p, i) => {
      if (!absolutePath.safeParse(p).success) return; // reported by the item's own schema
      const issue = (why: string) => ctx.addIssue({ code: 'custom', path: ['proxy_replaced_files', i], message: `${p}: ${why}` });
      if (p.split('/').some((seg) => seg === '.' || seg === '..')) return issue('no . or .. segments: the path as it is, not relative to another');
      if (!p.startsWith(files.root)) return issue(`the ${files.role} role removes only files of ${files.root} (its own config folder)`);
      const own = files.own(p);
      if (own) return issue(`${own}; not a hand-written file to remove`);
      if (v.proxy_replaced_files.indexOf(p) !== i) return issue('listed twice');
    });
  };
}

/**
 * Their removal, with the role's check and reload: the engine makes one validation set of adjacent
 * files with the same check. A sites-enabled symlink is removed as a link (never followed) and
 * backed up as one, so a failed check puts it back as it was.
 */
export function replacedFiles(paths: string[], validate: string, notify: string): Resource[] {
  return paths.map((path) => file({ path, state: 'absent', validate, notify }));
}
