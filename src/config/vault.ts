import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
// The envelope (PBKDF2-SHA256 10000 iterations → AES-256-CTR key, HMAC-SHA256 key and IV; HMAC of
// the ciphertext checked before decrypting; hexlified salt/hmac/ciphertext) is the npm package
// ansible-vault's: small, no dependencies, MIT, engines node >= 18, checks the HMAC first. What it
// leaves loose is checked here: the header, the hex, and which password fits which vault id.
import { Vault } from 'ansible-vault';
import { UserError } from '../errors.ts';
import { expandTilde } from '../paths.ts';

/** One vault password and its vault id ('default' when none is given, as Ansible names it). */
export interface VaultSecret {
  id: string;
  password: string;
  /** Where it came from, for errors: a file, a script, the prompt, the environment. */
  source: string;
}

let secrets: VaultSecret[] = [];

/**
 * The run's vault passwords, set once by the CLI from --vault-password-file, --vault-id,
 * --ask-vault-pass and ANSIBLE_VAULT_PASSWORD_FILE before any file is read. Files are read
 * synchronously from many places (inventory, vars files, -e @file, the playbook): this is the one
 * place they all find the passwords.
 */
export function setVaultSecrets(list: VaultSecret[]): void {
  secrets = [...list];
}

export function vaultSecrets(): readonly VaultSecret[] {
  return secrets;
}

const HEADER = '$ANSIBLE_VAULT;';

/** Whether a text (a whole file, or a `!vault` value) is an Ansible Vault envelope. */
export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith(HEADER);
}

interface Where {
  file: string;
  line?: number | undefined;
}

/**
 * Decrypts `$ANSIBLE_VAULT;1.1;AES256` and `$ANSIBLE_VAULT;1.2;AES256;<vault-id>` texts. Passwords
 * whose vault id is the text's are tried first, then the others (Ansible does the same unless
 * vault_id_match is set). A wrong password and a damaged text look the same (the HMAC does not
 * match): the error says so, naming the file and line.
 */
export function decryptVault(text: string, where: Where, what = 'this value'): string {
  const lines = text.trim().split(/\r?\n/).map((l) => l.trim());
  const header = lines[0]!.split(';');
  const fail = (msg: string) => new UserError(`Ansible Vault: ${msg}`, where);
  if (header.length < 3 || !/^1\.[12]$/.test(header[1]!)) {
    throw fail(`unsupported vault format '${lines[0]}' (mxplay reads $ANSIBLE_VAULT;1.1;AES256 and $ANSIBLE_VAULT;1.2;AES256;<vault-id>)`);
  }
  if (header[2] !== 'AES256') throw fail(`unsupported cipher ${header[2]} (only AES256)`);
  const id = header[1] === '1.2' ? header[3] : undefined;
  const body = lines.slice(1).join('');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(body)) throw fail(`${what} is not a complete vault text (its body is not hex)`);
  const inner = Buffer.from(body, 'hex').toString('latin1').split('\n');
  if (inner.length !== 3 || !inner.every((h) => /^(?:[0-9a-fA-F]{2})+$/.test(h))) {
    throw fail(`${what} is not a complete vault text (expected salt, HMAC and ciphertext)`);
  }
  if (!secrets.length) {
    throw fail(`${what} is encrypted${id ? ` (vault id ${id})` : ''}: give its password with --vault-password-file FILE, --ask-vault-pass, --vault-id ID@SOURCE or ANSIBLE_VAULT_PASSWORD_FILE`);
  }
  const ordered = [...secrets.filter((s) => s.id === id), ...secrets.filter((s) => s.id !== id)];
  const envelope = `${lines[0]}\n${body}`;
  for (const s of ordered) {
    try {
      const plain = new Vault({ password: s.password }).decryptSync(envelope, undefined);
      if (plain !== undefined) return plain;
    } catch (e) {
      if ((e as Error).message !== 'Integrity check failed') throw fail(`${what} could not be decrypted: ${(e as Error).message}`);
    }
  }
  const tried = ordered.map((s) => (s.id === 'default' ? s.source : `${s.id}@${s.source}`)).join(', ');
  throw fail(`decryption of ${what} failed${id ? ` (vault id ${id})` : ''}: wrong vault password (tried ${tried}), or the text is damaged`);
}

/**
 * A password from a file, as Ansible reads it: an executable file is run and its stdout is the
 * password (a `…-client` script is given `--vault-id ID`, as Ansible's client scripts expect);
 * otherwise the file's content. Surrounding white space is not part of it.
 */
export function passwordFromFile(path: string, id = 'default'): VaultSecret {
  const p = resolve(expandTilde(path));
  const fail = (why: string) => new UserError(`vault password file ${path}: ${why}`);
  let executable = false;
  try {
    if (!statSync(p).isFile()) throw fail('not a file');
    accessSync(p, constants.X_OK);
    executable = true;
  } catch (e) {
    if (e instanceof UserError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw fail('no such file');
  }
  let password: string;
  if (executable) {
    const client = /-client(\.[^./]+)?$/.test(p);
    const interactive = isatty(0);
    const r = spawnSync(p, client ? ['--vault-id', id] : [], {
      encoding: 'utf8',
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', interactive ? 'inherit' : 'pipe'],
    });
    if (r.error) throw fail(`could not run it (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`);
    if (r.status !== 0) {
      const err = interactive ? '' : (r.stderr ?? '').trim().slice(-2000);
      throw fail(`the script ${r.status === null ? `was killed by ${r.signal}` : `exited with status ${r.status}`}${err ? `: ${err}` : ''}`);
    }
    password = r.stdout.trim();
  } else {
    try {
      password = readFileSync(p, 'utf8').trim();
    } catch (e) {
      throw fail(`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  if (!password) throw fail(executable ? 'the script printed an empty password' : 'the file is empty');
  return { id, password, source: path };
}

/** Reads a password from the terminal without echoing it (as Ansible's getpass prompt does). */
export async function promptPassword(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UserError('--ask-vault-pass needs a terminal: without one, give --vault-password-file FILE');
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((done, fail) => {
      let text = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            return done(text);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return fail(new UserError('vault password prompt interrupted'));
          }
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

export interface VaultOptions {
  passwordFiles?: string[];
  vaultIds?: string[];
  askVaultPass?: boolean;
  env?: NodeJS.ProcessEnv;
  prompt?: (question: string) => Promise<string>;
}

/**
 * The vault passwords of the command line, in Ansible's way: `--vault-id [ID@]SOURCE` (SOURCE a
 * file, an executable script or `prompt`), `--vault-password-file FILE` (id 'default'),
 * `--ask-vault-pass`, and ANSIBLE_VAULT_PASSWORD_FILE in addition to them.
 */
export async function vaultSecretsFromOptions(o: VaultOptions): Promise<VaultSecret[]> {
  const env = o.env ?? process.env;
  const prompt = o.prompt ?? promptPassword;
  const out: VaultSecret[] = [];
  const ask = async (id: string) => {
    const password = await prompt(id === 'default' ? 'Vault password: ' : `Vault password (${id}): `);
    if (!password) throw new UserError('an empty vault password was entered');
    out.push({ id, password, source: 'prompt' });
  };
  for (const v of o.vaultIds ?? []) {
    const at = v.indexOf('@');
    const id = at > 0 ? v.slice(0, at) : 'default';
    const source = at >= 0 ? v.slice(at + 1) : v;
    if (!source) throw new UserError(`--vault-id ${v}: expected ID@SOURCE (a password file, a script, or prompt)`);
    if (source === 'prompt') await ask(id);
    else out.push(passwordFromFile(source, id));
  }
  for (const f of o.passwordFiles ?? []) out.push(passwordFromFile(f));
  const fromEnv = env.ANSIBLE_VAULT_PASSWORD_FILE;
  if (fromEnv) out.push({ ...passwordFromFile(fromEnv), source: `${fromEnv} (ANSIBLE_VAULT_PASSWORD_FILE)` });
  if (o.askVaultPass) await ask('default');
  return out;
}
