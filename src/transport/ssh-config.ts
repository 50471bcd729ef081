import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname as localHostname, tmpdir, userInfo } from 'node:os';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import { runSshG } from './ssh-g.ts';


/**
 * A host's effective ssh_config as `ssh -G` prints it: lower-case keywords, each with its values in
 * order (several for identityfile; one line of words for the known-hosts files). One exception:
 * serveraliveinterval and serveralivecountmax are absent when nothing set them (`ssh -G` prints
 * OpenSSH's defaults, 0 and 3, which mxplay's own keep-alive defaults replace).
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

/**
 * OpenSSH's time format (convtime in misc.c), as ServerAliveInterval takes it: seconds, or a
 * sequence of numbers each with an optional unit s, m, h, d, w (any case): `90`, `1m30s`, `1h`.
 * undefined when it is not one.
 */
export function convtime(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+[smhdwSMHDW]?)+$/.test(t)) return undefined;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const [, n, u] of t.matchAll(/(\d+)([smhdwSMHDW]?)/g)) total += Number(n) * (u ? unit[u.toLowerCase()]! : 1);
  return total <= 2147483647 ? total : undefined;
}

/** ServerAliveCountMax's value as OpenSSH reads it (a whole number, 0 or more); undefined when it is not one. */
export function countMaxOf(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n <= 2147483647 ? n : undefined;
}

/**
 * ServerAliveInterval (seconds) and ServerAliveCountMax of an effective ssh_config, where it sets
 * them. Throws an Error naming the keyword when a value is not one ssh takes (the built-in reader
 * keeps the text as written; `ssh -G` has refused such a value already).
 */
export function serverAliveOf(m: SshOptionMap): { intervalS?: number; countMax?: number } {
  const out: { intervalS?: number; countMax?: number } = {};
  const i = m.get('serveraliveinterval')?.[0];
  if (i !== undefined) {
    const v = convtime(i);
    if (v === undefined) throw new Error(`ServerAliveInterval ${i}: invalid time value (seconds, or e.g. 1m30s)`);
    out.intervalS = v;
  }
  const c = m.get('serveralivecountmax')?.[0];
  if (c !== undefined) {
    const v = countMaxOf(c);
    if (v === undefined) throw new Error(`ServerAliveCountMax ${c}: not a whole number (0 or more)`);
    out.countMax = v;
  }
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

const SERVER_ALIVE = [
  { key: 'serveraliveinterval', keyword: 'ServerAliveInterval', openSshDefault: '0' },
  { key: 'serveralivecountmax', keyword: 'ServerAliveCountMax', openSshDefault: '3' },
] as const;
type ServerAliveKey = (typeof SERVER_ALIVE)[number]['key'];

/**
 * `ssh -G` prints ServerAliveInterval 0 and ServerAliveCountMax 3 when nothing sets them, and
 * mxplay's keep-alive defaults differ from OpenSSH's: such a key is dropped from the map when no -o
 * option and no config file ssh read (its -v "Reading configuration data" lines) mentions it. When
 * a file does, the value may be its own or the default (the mention being for another host):
 * `unsetByConfig` (a second ssh -G) tells.
 */
async function dropUnsetServerAlive(map: SshOptionMap, q: SshConfigQuery, verbose: string, unsetByConfig: () => Promise<Set<ServerAliveKey>>): Promise<void> {
  const files = [...new Set([...verbose.matchAll(/^debug1: Reading configuration data (.+)$/gm)].map((m) => m[1]!.trim()))];
  const texts = files.map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined; // unreadable to us: counted as mentioning everything
    }
  });
  const line = (key: string, flags: string) => new RegExp(`^\\s*${key}\\s*[=\\s]`, flags);
  // OpenSSH's default value and not given with -o: set by a file, or not at all (any other value was set).
  const ambiguous = SERVER_ALIVE.filter(({ key, openSshDefault }) => map.get(key)?.[0] === openSshDefault && !(q.options ?? []).some((o) => line(key, 'i').test(o)));
  const mentioned = ambiguous.filter(({ key }) => texts.some((t) => t === undefined || line(key, 'im').test(t)));
  for (const { key } of ambiguous) if (!mentioned.some((m) => m.key === key)) map.delete(key);
  if (!mentioned.length) return;
  const unset = await unsetByConfig();
  for (const { key } of mentioned) if (unset.has(key)) map.delete(key);
}

/** Values no config would set, appended after every file (first value wins): printed, they show the key unset. */
const UNSET = { serveraliveinterval: '1234567', serveralivecountmax: '1234567' } as const;

/**
 * Which of ServerAliveInterval / ServerAliveCountMax the config files leave unset for this host:
 * ssh -G again with a config of its own that Includes them (as ssh reads them: the -F file, else
 * ~/.ssh/config then /etc/ssh/ssh_config) and then sets values no one writes, which show only
 * where none of the files set one. Should ssh not read it (it read the same files a moment ago),
 * none: what ssh printed stands.
 */
async function unsetByConfig(ssh: string, fileArgs: string[], rest: string[]): Promise<Set<ServerAliveKey>> {
  const given = fileArgs[0] === '-F' ? fileArgs[1]! : undefined;
  const included = given !== undefined
    ? (given === '/dev/null' || given.toLowerCase() === 'none' ? [] : [resolvePath(given)])
    : [join(userInfo().homedir, '.ssh', 'config'), '/etc/ssh/ssh_config'];
  const dir = mkdtempSync(join(tmpdir(), 'mxplay-ssh-g-'));
  try {
    const file = join(dir, 'config');
    const text = [...included.map((f) => `Include "${f}"`), 'Host *', ...SERVER_ALIVE.map((k) => `  ${k.keyword} ${UNSET[k.key]}`), ''].join('\n');
    writeFileSync(file, text, { mode: 0o600 });
    const r = await runSshG(ssh, ['-G', '-F', file, ...rest]);
    if (r.code !== 0) return new Set();
    const m = parseSshG(r.stdout);
    return new Set(SERVER_ALIVE.filter((k) => m.get(k.key)?.[0] === UNSET[k.key]).map((k) => k.key));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readEffective(alias: string, q: SshConfigQuery): Promise<SshOptionMap> {
  const ssh = opensshClient();
  let map: SshOptionMap;
  if (ssh) {
    const fileArgs = q.configFile ? ['-F', q.configFile] : configFileFlag();
    const rest = [
      ...(q.user ? ['-l', q.user] : []),
      ...(q.port ? ['-p', String(q.port)] : []),
      ...(q.options ?? []).flatMap((o) => ['-o', o]),
      '--',
      alias,
    ];
    // -v: ssh also says which files it read (for the keep-alive keywords, below).
    const r = await runSshG(ssh, ['-G', '-v', ...fileArgs, ...rest]);
    if (r.code !== 0) {
      const why = r.stderr.split('\n').filter((l) => l && !/^(Pseudo-terminal|debug\d: |OpenSSH_)/.test(l)).join('; ') || (r.error ?? `exit ${r.code}`);
      throw new Error(`ssh -G ${alias} failed: ${why}`);
    }
    map = parseSshG(r.stdout);
    await dropUnsetServerAlive(map, q, r.stderr, () => unsetByConfig(ssh, fileArgs, rest));
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
const HONOURED = new Set([
  'proxyjump', 'proxycommand', 'identityfile', 'port', 'user', 'userknownhostsfile', 'globalknownhostsfile', 'stricthostkeychecking', 'connecttimeout',
  'hostkeyalias', 'hostname', 'serveraliveinterval', 'serveralivecountmax',
]);
/** Keywords that only tune OpenSSH's own client (multiplexing, TCP keep-alives, logging): nothing to do here. */
const HARMLESS = new Set([
  'controlmaster', 'controlpath', 'controlpersist', 'tcpkeepalive', 'compression',
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
    // Refused here as ssh would refuse it, rather than when connecting.
    if (k === 'serveraliveinterval' && convtime(m[2]!) === undefined) throw new Error(`'-o ${opt}': ServerAliveInterval takes seconds (0: no keep-alives) or a time such as 1m30s`);
    if (k === 'serveralivecountmax' && countMaxOf(m[2]!) === undefined) throw new Error(`'-o ${opt}': ServerAliveCountMax takes a whole number`);
    options.push(`${m[1]}=${m[2]}`);
  }
  return { options, ...(configFile ? { configFile } : {}) };
}
