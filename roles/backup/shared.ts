// What the backup role (on each homeserver host) and the backup_repository role (on the host
// holding the repositories) must agree on: one value per variable, read by both.
import { z, absolutePath } from 'mxplay';

/** A client's repository folder and archive prefix are named after its inventory host name. */
export const CLIENT_NAME = /^[A-Za-z0-9._-]+$/;

export const repositoryVars = {
  backup_repository_user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix user name like borg').default('borg')
    .describe('the user on the repository host that the homeserver hosts log in as (it may only run borg serve)'),
  backup_repository_path: absolutePath.default('/srv/borg')
    .describe("the repository host's folder of repositories: one per homeserver host, PATH/<inventory host name>"),
};
