import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname as localHostname, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';


/**
 * A host's effective ssh_config as `ssh -G` prints it: lower-case keywords, each with its values in
 * order (several for identityfile; one line of words for the known-hosts files).
 */
export type SshOptionMap = Map<string, string[]>;

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}

/** Splits a line as ssh_config and a shell do for these purposes: whitespace, single and double quotes. */
export function splitWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) cur += text[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (has || cur) out.push(cur);
  return out;
}

const MULTI = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'setenv']);

/**
 * The reader used when OpenSSH's client is not installed: `Host` blocks of ~/.ssh/config (first
 * value wins, patterns case-insensitive, `!` negation), `key value` options given first (as `-o`),
 * then OpenSSH's defaults. `Match` and `Include` are not read: a config that has them needs OpenSSH
 * installed (`ssh -G`), and is refused here rather than misread.
 */
export function readSshConfig(alias: string, text: string, o: { options?: string[]; user?: string; port?: number; file?: string } = {}): SshOptionMap {
  const out: SshOptionMap = new Map();
  const set = (key: string, value: string) => {
    const k = key.toLowerCase();
    if (MULTI.has(k)) out.set(k, [...(out.get(k) ?? []), value]);
    else if (!out.has(k)) out.set(k, [value]);
  };
  if (o.user) set('user', o.user);
  if (o.port) set('port', String(o.port));
  for (const opt of o.options ?? []) {
    const m = /^(\S+?)\s*(?:=\s*|\s+)(.+)$/.exec(opt.trim());
    if (m) set(m[1]!, m[2]!.trim());
  }
  let active = true;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?)\s*(?:=\s*|\s+)(.+)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      const pats = value.split(/\s+/);
      active = pats.some((p) => !p.startsWith('!') && globMatch(p, alias)) && !pats.some((p) => p.startsWith('!') && globMatch(p.slice(1), alias));
      continue;
    }
    if (key === 'match' || key === 'include') {
      throw new Error(`${o.file ?? 'ssh config'} line ${i + 1}: ${m[1]} needs OpenSSH's client to be read (ssh -G): install openssh-client`);
    }
    if (!active) continue;
    set(key, value);
  }
  // OpenSSH's defaults, as ssh -G prints them.
  const defaults: [string, string[]][] = [
    ['hostname', [alias]],
    ['user', [userInfo().username]],
    ['port', ['22']],
    ['identityfile', ['~/.ssh/id_rsa', '~/.ssh/id_ecdsa', '~/.ssh/id_ed25519']],
    ['userknownhostsfile', ['~/.ssh/known_hosts ~/.ssh/known_hosts2']],
    ['globalknownhostsfile', ['/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2']],
  ];
  for (const [k, v] of defaults) if (!out.has(k)) out.set(k, v);
  const host = out.get('hostname')![0]!.replace(/%h/g, alias).replace(/%%/g, '%');
  out.set('hostname', [host]);
  return out;
}

/** Parses `ssh -G` output. */
export function parseSshG(text: string): SshOptionMap {
  const out: SshOptionMap = new Map();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const k = m[1]!.toLowerCase();
    out.set(k, [...(out.get(k) ?? []), m[2]!]);
  }
  return out;
}

let sshPath: string | null | undefined;
/** OpenSSH's client, when installed (looked up once). MXPLAY_SSH_G=0 forces the built-in reader. */
export function opensshClient(): string | null {
  if (sshPath !== undefined) return sshPath;
  if (process.env.MXPLAY_SSH_G === '0') return (sshPath = null);
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, 'ssh');
    if (dir && existsSync(p)) return (sshPath = p);
  }
  return (sshPath = null);
}

/**
 * Which config file ssh reads. ssh finds ~ from the password database, not $HOME: when $HOME was
 * changed (tests, sudo -E), the config in $HOME is the one meant, given with -F.
 */
function configFileFlag(): string[] {
  const home = homedir();
  let pwHome: string;
  try {
    pwHome = userInfo().homedir;
  } catch {
    pwHome = home;
  }
  if (home === pwHome) return [];
  const f = join(home, '.ssh', 'config');
  return ['-F', existsSync(f) ? f : '/dev/null'];
}

const cache = new Map<string, Promise<SshOptionMap>>();

/** Forget what was read (tests switch between ssh -G and the built-in reader). */
export function resetSshConfigCache(): void {
  cache.clear();
  sshPath = undefined;
}

export interface SshConfigQuery {
  user?: string;
  port?: number;
  /** `-o Key=Value` options, as given on ssh's command line (they come before the config files). */
  options?: string[];
  /** An ssh_config file given with -F. */
  configFile?: string;
}

/**
 * The effective ssh_config of a host: `ssh -G` when OpenSSH's client is installed (Include, Match,
 * tokens, case-insensitive host patterns, exactly as ssh itself), else the built-in reader.
 * Throws an Error with ssh's own message when the config cannot be read.
 */
export function effectiveSshConfig(alias: string, q: SshConfigQuery = {}): Promise<SshOptionMap> {
  const key = JSON.stringify([alias, q, homedir()]);
  let hit = cache.get(key);
  if (!hit) {
    hit = readEffective(alias, q);
    cache.set(key, hit);
  }
  return hit;
}

function runSshG(ssh: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(ssh, args, { encoding: 'utf8', timeout: 20_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr, ...(e && code === -1 ? { error: e.message } : {}) });
    }).stdin?.end();
  });
}

async function readEffective(alias: string, q: SshConfigQuery): Promise<SshOptionMap> {
  const ssh = opensshClient();
  let map: SshOptionMap;
  if (ssh) {
    const args = [
      '-G',
      ...(q.configFile ? ['-F', q.configFile] : configFileFlag()),
      ...(q.user ? ['-l', q.user] : []),
      ...(q.port ? ['-p', String(q.port)] : []),
      ...(q.options ?? []).flatMap((o) => ['-o', o]),
      '--',
      alias,
    ];
    const r = await runSshG(ssh, args);
    if (r.code !== 0) {
      const why = r.stderr.split('\n').filter((l) => l && !/^Pseudo-terminal/.test(l)).join('; ') || (r.error ?? `exit ${r.code}`);
      throw new Error(`ssh -G ${alias} failed: ${why}`);
    }
    map = parseSshG(r.stdout);
    // ssh expanded ~ with the password database's home; when $HOME differs, $HOME's is meant.
    const pwHome = userInfo().homedir;
    if (pwHome !== homedir()) {
      for (const k of ['userknownhostsfile', 'globalknownhostsfile']) {
        const v = map.get(k);
        if (v) map.set(k, v.map((s) => s.split(' ').map((f) => (f.startsWith(pwHome + '/') ? homedir() + f.slice(pwHome.length) : f)).join(' ')));
      }
    }
  } else {
    const file = q.configFile ?? join(homedir(), '.ssh', 'config');
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    map = readSshConfig(alias, text, { ...q, file });
  }
  return map;
}

/**
 * Expands ssh_config tokens (%d %h %r %u %p %n %l %L %i %k %C %%) and a leading ~ in a path value,
 * as ssh does for IdentityFile.
 */
export function expandTokens(value: string, t: { alias: string; hostname: string; user: string; port: number; hostKeyAlias?: string }): string {
  const home = homedir();
  const local = localHostname();
  const v = value.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case '%': return '%';
      case 'd': return home;
      case 'h': return t.hostname;
      case 'r': return t.user;
      case 'u': return userInfo().username;
      case 'p': return String(t.port);
      case 'n': return t.alias;
      case 'l': return local;
      case 'L': return local.split('.')[0]!;
      case 'i': return String(process.getuid?.() ?? '');
      case 'k': return t.hostKeyAlias ?? t.hostname;
      case 'C': return createHash('sha1').update(`${local}${t.hostname}${t.port}${t.user}`).digest('hex');
      default: return all;
    }
  });
  return v === '~' ? home : v.startsWith('~/') ? join(home, v.slice(2)) : v;
}

/** One hop of a ProxyJump list: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpSpec {
  host: string;
  user?: string;
  port?: number;
}

export function parseJumpList(value: string): JumpSpec[] {
  if (!value.trim() || value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((raw) => {
    const s = raw.trim().replace(/^ssh:\/\//, '');
    const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/.exec(s);
    if (!m) throw new Error(`not a jump host: '${raw.trim()}' (expected [user@]host[:port])`);
    return { host: m[2]!.replace(/^\[(.*)\]$/, '$1'), ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: Number(m[3]) } : {}) };
  });
}

/**
 * A ProxyCommand that is a jump in disguise, `ssh [-p P] [-l U] [-i K] [-J J] [-q] -W %h:%p [user@]host`
 * (the usual Ansible idiom): its hops. Any other ProxyCommand is refused (not run).
 */
export function jumpsOfProxyCommand(command: string): { jumps: JumpSpec[]; identityFile?: string } {
  const w = splitWords(command);
  const bad = () => new Error(`ProxyCommand '${command}' is not supported: only 'ssh -W %h:%p [user@]host' (a jump host) is; use ProxyJump`);
  if (!w.length || !/(^|\/)ssh$/.test(w[0]!)) throw bad();
  let user: string | undefined;
  let port: number | undefined;
  let identityFile: string | undefined;
  let before: JumpSpec[] = [];
  let forward = false;
  const hosts: string[] = [];
  for (let i = 1; i < w.length; i++) {
    const a = w[i]!;
    const next = () => {
      const v = w[++i];
      if (v === undefined) throw bad();
      return v;
    };
    if (a === '-W') {
      if (!/^%h:%p$/.test(next())) throw bad();
      forward = true;
    } else if (a === '-p') port = Number(next());
    else if (a === '-l') user = next();
    else if (a === '-i') identityFile = next();
    else if (a === '-J') before = parseJumpList(next());
    else if (a === '-o') next(); // options of the jump connection itself (e.g. StrictHostKeyChecking): host keys are checked at every hop anyway
    else if (/^-[qTnNC46]+$/.test(a)) continue;
    else if (a.startsWith('-')) throw bad();
    else hosts.push(a);
  }
  if (!forward || hosts.length !== 1) throw bad();
  const [last] = parseJumpList(hosts[0]!);
  return { jumps: [...before, { ...last!, ...(user && !last!.user ? { user } : {}), ...(port && !last!.port ? { port } : {}) }], ...(identityFile ? { identityFile } : {}) };
}

/** ssh_config keywords given in ansible_ssh_common_args / _extra_args that mxplay acts on. */
const HONOURED = new Set(['proxyjump', 'proxycommand', 'identityfile', 'port', 'user', 'userknownhostsfile', 'globalknownhostsfile', 'stricthostkeychecking', 'connecttimeout', 'hostkeyalias', 'hostname']);
/** Keywords that only tune OpenSSH's own client (multiplexing, keep-alives, logging): nothing to do here. */
const HARMLESS = new Set([
  'controlmaster', 'controlpath', 'controlpersist', 'serveraliveinterval', 'serveralivecountmax', 'tcpkeepalive', 'compression',
  'loglevel', 'identitiesonly', 'batchmode', 'preferredauthentications', 'pubkeyauthentication', 'passwordauthentication',
  'kbdinteractiveauthentication', 'gssapiauthentication', 'addkeystoagent', 'hashknownhosts', 'checkhostip', 'connectionattempts',
  'updatehostkeys', 'visualhostkey', 'requesttty', 'sendenv', 'addressfamily',
]);

/**
 * ansible_ssh_common_args / ansible_ssh_extra_args (ssh command-line words) as `Key=Value` options.
 * Throws an Error naming the word that mxplay cannot honour rather than ignoring it.
 */
export function sshArgsToOptions(args: string): { options: string[]; configFile?: string } {
  const w = splitWords(args);
  const options: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < w.length; i++) {
    const a = w[i]!;
    const value = () => {
      const v = w[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    let opt: string | undefined;
    if (a === '-o') opt = value();
    else if (a.startsWith('-o')) opt = a.slice(2);
    else if (a === '-J') opt = `ProxyJump=${value()}`;
    else if (a === '-i') opt = `IdentityFile=${value()}`;
    else if (a === '-p') opt = `Port=${value()}`;
    else if (a === '-l') opt = `User=${value()}`;
    else if (a === '-F') configFile = value();
    else if (/^-[qTnNC46v]+$/.test(a)) continue;
    else throw new Error(`'${a}' is not supported (supported: -o Key=Value, -J, -i, -p, -l, -F, -q, -C)`);
    if (opt === undefined) continue;
    const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(opt.trim());
    if (!m) throw new Error(`'-o ${opt}' is not an ssh option (Key=Value)`);
    const k = m[1]!.toLowerCase();
    if (HARMLESS.has(k)) continue;
    if (!HONOURED.has(k)) throw new Error(`'-o ${opt}' is not supported by mxplay (it reads ${[...HONOURED].join(', ')})`);
    options.push(`${m[1]}=${m[2]}`);
  }
  return { options, ...(configFile ? { configFile } : {}) };
}
