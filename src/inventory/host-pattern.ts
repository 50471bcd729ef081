/**
 * Host names as an inventory writes them (INI lines, YAML `hosts:` keys, `-i a,b`), read as
 * Ansible reads them: an optional `:port` (`host:2222`, `[2001:db8::1]:2222`) and ranges expanded
 * (`web[01:20].example.org` → web01 … web20, leading zeros kept; `db[a:f]`; a step,
 * `[1:10:2]`; several ranges in one name multiply). Where Ansible would silently make nothing of a
 * range (an empty or backwards one), it is an error here.
 */

export class HostPatternError extends Error {}

export interface ExpandedHosts {
  hosts: string[];
  /** The port written after the name, for every host of the pattern. */
  port?: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'; // Python's string.ascii_letters

/** `host:port` and `[host]:port` split; an IPv6 address (several colons, no brackets) has no port. */
export function splitPort(pattern: string): { name: string; port?: number } {
  const bracketed = /^\[([^\]]*:[^\]]*)\]:(\d+)$/.exec(pattern); // [2001:db8::1]:22
  if (bracketed) return { name: bracketed[1]!, port: toPort(bracketed[2]!, pattern) };
  // Colons inside ranges ([1:3]) are not the port's.
  const outside = pattern.replace(/\[[^\]]*\]/g, (m) => '_'.repeat(m.length));
  const colons = [...outside].filter((c) => c === ':').length;
  if (colons === 1) {
    const at = outside.indexOf(':');
    const port = pattern.slice(at + 1);
    if (!/^\d+$/.test(port)) throw new HostPatternError(`${pattern}: the part after ':' must be a port number`);
    if (at === 0) throw new HostPatternError(`${pattern}: no host name before the port`);
    return { name: pattern.slice(0, at), port: toPort(port, pattern) };
  }
  return { name: pattern };
}

function toPort(text: string, pattern: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new HostPatternError(`${pattern}: ${text} is not a port number (1-65535)`);
  return n;
}

/** Every name a range pattern stands for, in order (no range: the name itself). */
export function expandRanges(pattern: string): string[] {
  const open = pattern.indexOf('[');
  if (open === -1) {
    if (pattern.includes(']')) throw new HostPatternError(`${pattern}: a ']' without its '['`);
    return [pattern];
  }
  const close = pattern.indexOf(']', open);
  if (close === -1) throw new HostPatternError(`${pattern}: a '[' range without its ']'`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const spec = pattern.slice(open + 1, close);
  const bounds = spec.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostPatternError(`${pattern}: a host range is [begin:end] or [begin:end:step]`);
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  const stepText = bounds[2] ?? '1';
  if (!end) throw new HostPatternError(`${pattern}: the host range [${spec}] has no end`);
  if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new HostPatternError(`${pattern}: the step of [${spec}] must be a whole number of at least 1`);
  const step = Number(stepText);
  let items: string[];
  if (/^[A-Za-z]$/.test(beg) && /^[A-Za-z]$/.test(end)) {
    const b = LETTERS.indexOf(beg);
    const e = LETTERS.indexOf(end);
    if (b > e) throw new HostPatternError(`${pattern}: the host range [${spec}] ends before it begins (a-z come before A-Z)`);
    items = [];
    for (let i = b; i <= e; i += step) items.push(LETTERS[i]!);
  } else if (/^\d+$/.test(beg) && /^\d+$/.test(end)) {
    // A begin with leading zeros gives the width of every number; the end must be written as wide.
    const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    if (width && end.length !== width) throw new HostPatternError(`${pattern}: [${spec}]: begin and end must have the same number of digits when begin has leading zeros`);
    const b = Number(beg);
    const e = Number(end);
    if (b > e) throw new HostPatternError(`${pattern}: the host range [${spec}] ends before it begins`);
    if ((e - b) / step > 100_000) throw new HostPatternError(`${pattern}: the host range [${spec}] has more than 100000 hosts`);
    items = [];
    for (let i = b; i <= e; i += step) items.push(width ? String(i).padStart(width, '0') : String(i));
  } else {
    throw new HostPatternError(`${pattern}: the host range [${spec}] must be numbers ([01:20]) or single letters ([a:f])`);
  }
  return items.flatMap((x) => expandRanges(head + x + tail));
}

/** A host pattern: its port, and the host names its ranges stand for. */
export function expandHostPattern(pattern: string): ExpandedHosts {
  const p = pattern.trim();
  if (!p) throw new HostPatternError('an empty host name');
  const { name, port } = splitPort(p);
  const hosts = expandRanges(name);
  return port === undefined ? { hosts } : { hosts, port };
}
