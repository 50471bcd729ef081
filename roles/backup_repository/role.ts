import { defineRole, z, apt, command, directory, file, user, group, q, UserError, type TaskContext } from 'mxplay';
import { authorizedKeyLine, sshKeyPair } from '../backup/borg.ts';
import { CLIENT_NAME, repositoryVars } from '../backup/shared.ts';

/**
 * The homeserver hosts this host keeps repositories for: the variable, else every other inventory
 * host whose backup_repository_host names this one.
 */
function clientsOf(listed: string[] | undefined, ctx: TaskContext): string[] {
  const clients = listed ?? ctx.inventoryHosts.filter((h) => h !== ctx.host && ctx.inventoryVars(h)?.backup_repository_host === ctx.host);
  for (const c of clients) {
    if (!ctx.inventoryHosts.includes(c)) {
      throw new UserError(`backup_repository_clients: '${c}' is not a host of the inventory (each client's key is derived for its inventory name)`, { key: 'backup_repository_clients' });
    }
  }
  return clients;
}

export default defineRole({
  name: 'backup_repository',
  description: 'A host keeping the borg repositories of homeserver hosts: a user whose keys may only run borg serve, each in its own folder',
  vars: z.object({
    ...repositoryVars,
    backup_repository_clients: z.array(z.string().regex(CLIENT_NAME, 'an inventory host name (letters, digits and . _ -)')).optional()
      .describe('inventory hosts (with the backup role) whose repositories live here; default: every host whose backup_repository_host names this one'),
  }),
  // Clients reach borg serve through the host's sshd (the port its inventory gives, as theirs does).
  ports: (_v, ctx) => [{ protocol: 'tcp', port: Number(ctx.hostVars.ansible_port ?? ctx.hostVars.ansible_ssh_port ?? 22), why: 'SSH for borg serve' }],
  tasks: (v, ctx) => {
    const clients = clientsOf(v.backup_repository_clients, ctx);
    const u = v.backup_repository_user;
    const home = v.backup_repository_path;
    // Each client's public key, derived as the client derives its private key (same master secret, its scope).
    const keys = clients.map((c) => authorizedKeyLine(sshKeyPair(ctx.derivedSecret('backup_ssh_key', c), `mxplay-backup@${c}`).publicKey, `${home}/${c}`));
    return [
      apt({ names: ['borgbackup'] }),
      group({ name: u, system: true }),
      // A login shell: sshd runs the forced command through it (nologin would refuse it).
      user({ name: u, system: true, group: u, home, shell: '/bin/sh' }),
      // No password, rather than useradd's locked '!': sshd without PAM refuses keys of a locked account.
      command({
        name: `no password for ${u} (key logins only)`,
        cmd: `usermod -p '*' ${q(u)}`,
        unless: `[ "$(getent shadow ${q(u)} | cut -d: -f2)" = '*' ]`,
      }),
      directory({ path: home, owner: u, group: u, mode: 0o750 }),
      directory({ path: `${home}/.ssh`, owner: u, group: u, mode: 0o700 }),
      file({
        path: `${home}/.ssh/authorized_keys`,
        content: ['# managed by mxplay, role backup_repository: each key may only run borg serve in its own repository', ...keys, ''].join('\n'),
        owner: u, group: u, mode: 0o600,
      }),
      // Empty until the client's first backup makes the repository in it (borg init takes an empty folder).
      clients.map((c) => directory({ path: `${home}/${c}`, owner: u, group: u, mode: 0o700 })),
    ];
  },
});
