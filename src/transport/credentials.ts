// What the command line adds to every host's access (-u, --private-key, --jump, -k, -K), the
// prompts for passwords and key passphrases, and the registration of all of them as the run's
// secrets, so every output masks them.
import { UserError } from '../errors.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { askSecret } from '../ui/prompt.ts';
import type { ConnectionParams } from './connection.ts';
import type { ConnectionDefaults } from './params.ts';
import { resolveParams } from './resolve.ts';

/** The access options of run, plan and apply. */
export interface AccessOptions {
  user?: string;
  privateKey?: string;
  jump?: string;
  askPass?: boolean;
  askBecomePass?: boolean;
}

/** -u, --private-key, --jump as connection defaults; -k and -K asked (Ansible's prompts) and registered as secrets. */
export async function accessDefaults(a: AccessOptions | undefined, secrets: SecretRegistry): Promise<ConnectionDefaults> {
  if (!a) return {};
  const out: ConnectionDefaults = {
    ...(a.user ? { user: a.user } : {}),
    ...(a.privateKey ? { privateKey: a.privateKey } : {}),
    ...(a.jump ? { jump: a.jump } : {}),
  };
  if (a.askPass) {
    const pw = await askSecret('SSH password: ');
    if (pw === undefined) throw new UserError('-k/--ask-pass: no SSH password given (no terminal, and nothing on stdin)');
    secrets.addCredential(pw);
    out.password = pw;
  }
  if (a.askBecomePass) {
    const pw = await askSecret(a.askPass ? 'BECOME password[defaults to SSH password]: ' : 'BECOME password: ');
    if (pw === undefined && !a.askPass) throw new UserError('-K/--ask-become-pass: no become password given (no terminal, and nothing on stdin)');
    const become = pw || out.password;
    if (become !== undefined) {
      secrets.addCredential(become);
      out.becomePassword = become;
    }
  }
  return out;
}

/**
 * Before connecting: every password the hosts' params carry (ansible_password,
 * ansible_become_password, -k, -K) is a secret of the run. On a terminal, each encrypted key a
 * host would offer before any usable one, and that the ssh-agent does not hold, is asked for once
 * (as ssh asks: "Enter passphrase for key ..."), before the progress display takes the terminal.
 */
export async function prepareAccess(params: ConnectionParams[], secrets: SecretRegistry): Promise<void> {
  for (const p of params) {
    if (p.password) secrets.addCredential(p.password);
    if (p.becomePassword) secrets.addCredential(p.becomePassword);
  }
  if (!process.stdin.isTTY) return;
  // ssh2's key parser, loaded only when a key may be asked for: its start-up self-tests cost milliseconds.
  const { agentHolds, loadKey, rememberPassphrase } = await import('./keys.ts');
  const ssh = params.filter((p) => p.connection === 'ssh');
  const resolved = await Promise.all(ssh.map((p) => resolveParams(p).catch(() => undefined)));
  const asked = new Set<string>();
  for (const r of resolved) {
    if (!r) continue;
    for (const files of [...r.jumps.map((j) => j.identityFiles), r.identityFiles]) {
      for (const file of files) {
        if (asked.has(file)) continue;
        const k = loadKey(file);
        if (k.kind !== 'encrypted') break; // a usable key (or one ssh would skip too) comes first
        asked.add(file);
        if (await agentHolds(file)) break;
        for (let attempt = 0; attempt < 3; attempt++) {
          const pass = await askSecret(`Enter passphrase for key '${file}': `);
          if (!pass) break; // empty: skip this key, as ssh does
          if (loadKey(file, pass).kind === 'key') {
            secrets.addCredential(pass);
            rememberPassphrase(file, pass);
            break;
          }
          process.stderr.write('Bad passphrase, try again.\n');
        }
      }
    }
  }
}
