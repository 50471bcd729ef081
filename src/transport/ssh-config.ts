import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface SshConfigEntry {
  hostname?: string;
  user?: string;
  port?: number;
  identityFile?: string;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}

/** The few ~/.ssh/config settings a Host alias needs; as in OpenSSH, the first value found wins. */
export function sshConfigFor(alias: string, text?: string): SshConfigEntry {
  const file = join(homedir(), '.ssh', 'config');
  const src = text ?? (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const out: SshConfigEntry = {};
  let active = true;
  for (const raw of src.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(?:=\s*|\s+)(.+)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      const pats = value.split(/\s+/);
      active = pats.some((p) => !p.startsWith('!') && globMatch(p, alias)) && !pats.some((p) => p.startsWith('!') && globMatch(p.slice(1), alias));
      continue;
    }
    if (key === 'match') {
      active = false; // Match blocks are not supported: ignore them rather than guess
      continue;
    }
    if (!active) continue;
    if (key === 'hostname' && out.hostname === undefined) out.hostname = value.replace('%h', alias);
    if (key === 'user' && out.user === undefined) out.user = value;
    if (key === 'port' && out.port === undefined) out.port = Number(value);
    if (key === 'identityfile' && out.identityFile === undefined) out.identityFile = value.replace(/^~/, homedir());
  }
  return out;
}
