// Schema types for role variables that are really host names, addresses, paths or ports: one
// definition each, shared by the roles (`import { hostName, ... } from 'mxplay'`). Values of these
// types never need quoting in a config file, and their messages say what is expected.
import { isIP } from 'node:net';
import { z } from 'zod';

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export const isHostName = (s: string): boolean => HOST_NAME.test(s);

/** A DNS host name (letters, digits, `-` and dots); `example` names one in the message. */
export const hostName = (example = 'matrix.example.com') => z.string().regex(HOST_NAME, `a host name like ${example}`);

export const ipAddress = z.union([z.ipv4(), z.ipv6()]);
export const ipOrCidr = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);

/** A host name or an IP address (IPv6 without brackets). */
export const hostOrIp = (example = 'localhost') =>
  z.string().refine((s) => isHostName(s) || isIP(s) !== 0, `a host name like ${example} or an IP address`);

/** An absolute path of plain names: no spaces, quotes, `$` or other characters a config file or a shell reads as syntax. */
export const absolutePath = z.string().regex(/^(\/[A-Za-z0-9._+@-]+)+$/, 'an absolute path like /var/www/app (letters, digits and . _ - + @; no trailing /)');

export const port = z.number().int().min(1).max(65535);

/**
 * A Matrix server name, as the spec defines it: a host name, an IPv4 address or a bracketed IPv6
 * address, with an optional port. It goes into user IDs, config files and debconf's line format.
 */
export const serverName = z.string().refine((s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return false;
  const host = m[1]!;
  const hostOk = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isHostName(host) || isIP(host) === 4;
  return hostOk && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535));
}, 'a server name like example.com or example.com:8448 (a host name or IP address, optionally a port)');
