import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeVars, formatValue, roleDocText, typeText, varFlags, type VarDoc } from '../../../src/roles/docs.ts';
import { absolutePath, hostName, hostOrIp, ipAddress, ipOrCidr, port, serverName } from '../../../src/roles/schemas.ts';
import { secret } from '../../../src/secrets/secrets.ts';

describe('typeText: each zod construct as a user reads it', () => {
  it.each<[string, z.ZodType, string]>([
    ['string', z.string(), 'string'],
    ['non-empty string', z.string().min(1), 'non-empty string'],
    ['string with a minimum', z.string().min(8), 'string (at least 8 characters)'],
    ['string with a maximum', z.string().max(63), 'string (at most 63 characters)'],
    ['string with both', z.string().min(2).max(5), 'string (2-5 characters)'],
    ['string of one length', z.string().length(3), 'string (3 characters)'],
    ['a regex is no type', z.string().regex(/^\d+[KMG]?$/, 'a size like 50M'), 'string'],
    ['url', z.url(), 'URL'],
    ['url with protocols', z.url({ protocol: /^https?$/ }), 'URL'],
    ['email', z.email(), 'email address'],
    ['ipv4', z.ipv4(), 'IPv4 address'],
    ['ipv6', z.ipv6(), 'IPv6 address'],
    ['cidrv4', z.cidrv4(), 'IPv4 network (CIDR)'],
    ['number', z.number(), 'number'],
    ['integer', z.number().int(), 'integer'],
    ['positive integer', z.number().int().positive(), 'positive integer'],
    ['integer min 1', z.number().int().min(1), 'positive integer'],
    ['non-negative integer', z.number().int().min(0), 'integer (>= 0)'],
    ['integer range', z.number().int().min(1024).max(65535), 'integer (1024-65535)'],
    ['number bounds', z.number().gt(0).lte(1), 'number (> 0, <= 1)'],
    ['a port', z.number().int().min(1).max(65535), 'port (1-65535)'],
    ['boolean', z.boolean(), 'boolean'],
    ['enum: bare values', z.enum(['closed', 'invite-token', 'open-email']), 'closed | invite-token | open-email'],
    ['string literal: quoted', z.literal('flush_handlers'), '"flush_handlers"'],
    ['number literals', z.union([z.literal(443), z.literal(8448)]), '443 | 8448'],
    ['same-text options once', z.union([z.string(), z.string().regex(/x/)]), 'string'],
    ['union of numbers once', z.union([z.number(), z.number().int().transform(String)]), 'number | integer'],
    ['union of types', z.union([z.string(), z.array(z.string())]), 'string | list of string'],
    ['nullable', z.string().nullable(), 'string | null'],
    ['optional is seen through', z.string().optional(), 'string'],
    ['default is seen through', z.number().int().default(3), 'integer'],
    ['prefault is seen through', z.strictObject({ a: z.boolean().default(false) }).prefault({}), 'object'],
    ['a transform reads as what it takes', z.string().transform((s) => s.length), 'string'],
    ['preprocess reads as its schema', z.preprocess((v) => v, z.boolean()), 'boolean'],
    ['lazy', z.lazy(() => z.boolean()), 'boolean'],
    ['list', z.array(z.string()), 'list of string'],
    ['non-empty list', z.array(ipAddress).min(1), 'non-empty list of IP address'],
    ['list of a union', z.array(z.enum(['a', 'b'])), 'list of (a | b)'],
    ['list of lists', z.array(z.array(z.number())), 'list of list of number'],
    ['map', z.record(z.string(), z.unknown()), 'map of any'],
    ['map with enum keys', z.partialRecord(z.enum(['web', 'jvb']), z.string()), 'map of string (keys: web | jvb)'],
    ['map of maps with enum keys', z.partialRecord(z.enum(['web', 'jvb']), z.record(z.string(), z.string())), 'map of map of string (keys: web | jvb)'],
    ['object', z.object({ a: z.string() }), 'object'],
    ['strict object', z.strictObject({ a: z.string() }), 'object'],
    ['loose object', z.looseObject({ a: z.string() }), 'object (any more keys)'],
    ['tuple', z.tuple([z.string(), z.number()]), '[string, number]'],
    ['intersection', z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() })), 'object & object'],
    ['any', z.any(), 'any'],
    ['unknown', z.unknown(), 'any'],
    ['a name of its own', z.string().meta({ typeText: 'Matrix user ID' }), 'Matrix user ID'],
    ['secret()', secret(), 'string (at least 8 characters)'],
  ])('%s → %s', (_n, schema, text) => {
    expect(typeText(schema)).toBe(text);
  });

  // The shared schemas of src/roles/schemas.ts: each reads as what it is, never as `string | string`.
  it.each<[string, z.ZodType, string]>([
    ['port', port, 'port (1-65535)'],
    ['port with a default', port.default(8448), 'port (1-65535)'],
    ['ipAddress', ipAddress, 'IP address'],
    ['ipAddress, optional and described', ipAddress.describe('x').optional(), 'IP address'],
    ['ipOrCidr', ipOrCidr, 'IP address or network (CIDR)'],
    ['list of ipOrCidr', z.array(ipOrCidr), 'list of IP address or network (CIDR)'],
    ['hostOrIp()', hostOrIp('redis.internal'), 'host name or IP'],
    ['hostName()', hostName('meet.example.com'), 'host name'],
    ['absolutePath', absolutePath.default('/srv'), 'absolute path'],
    ['serverName', serverName, 'server name (host name or IP, optional :port)'],
  ])('schemas.ts %s → %s', (_n, schema, text) => {
    expect(typeText(schema)).toBe(text);
    expect(text).not.toMatch(/(\w+) \| \1/);
  });
});

describe('describeVars: defaults, optional, required, secrets, descriptions, nested keys', () => {
  const schema = z.object({
    plain: z.string().describe('a plain one'),
    count: z.number().int().default(10).describe('how many'),
    maybe: z.string().optional(),
    password: secret().optional().describe('derived when unset'),
    size: z.string().regex(/^\d+M$/, 'a size like 50M').default('50M'),
    users: z.array(z.strictObject({ name: z.string().min(1), password: secret(), admin: z.boolean().default(false) })).default([]),
    policy: z.strictObject({ length: z.number().int().min(1).default(12) }).prefault({}),
    sites: z.record(z.string(), z.object({ root: absolutePath, tls: z.object({ cert: z.string() }).optional() })).default({}),
    either: z.union([z.string(), z.strictObject({ host: hostOrIp(), port: port.optional() })]).optional(),
    nothing: z.string().nullable().default(null),
  });
  const docs = describeVars(schema);
  const at = (path: string) => docs.find((d) => d.path === path);

  it.each<[string, Partial<VarDoc>, string]>([
    ['plain', { name: 'plain', type: 'string', required: true, secret: false, description: 'a plain one' }, 'required'],
    ['count', { type: 'integer', required: false, default: 10, description: 'how many' }, 'default: 10'],
    ['maybe', { type: 'string', required: false }, 'optional'],
    ['password', { required: false, secret: true, description: 'derived when unset' }, 'optional, secret'],
    ['size', { type: 'string', default: '50M', checks: ['a size like 50M'] }, 'default: "50M"'],
    ['users', { type: 'list of object', default: [] }, 'default: []'],
    ['users[].name', { name: 'users', type: 'non-empty string', required: true }, 'required'],
    ['users[].password', { name: 'users', required: true, secret: true }, 'required, secret'],
    ['users[].admin', { type: 'boolean', default: false }, 'default: false'],
    ['policy', { type: 'object', default: {} }, 'default: {}'],
    ['policy.length', { type: 'positive integer', default: 12 }, 'default: 12'],
    ['sites', { type: 'map of object' }, 'default: {}'],
    ['sites{}.root', { name: 'sites', type: 'absolute path', required: true }, 'required'],
    ['sites{}.tls', { type: 'object', required: false }, 'optional'],
    ['sites{}.tls.cert', { type: 'string', required: true }, 'required'],
    ['either', { type: 'string | object', required: false }, 'optional'],
    ['either.host', { type: 'host name or IP', required: true }, 'required'],
    ['either.port', { type: 'port (1-65535)', required: false }, 'optional'],
    ['nothing', { type: 'string | null', default: null }, 'default: null'],
  ])('%s', (path, expected, flags) => {
    const d = at(path);
    expect(d).toMatchObject({ path, ...expected });
    expect(varFlags(d!)).toBe(flags);
  });

  it('lists each variable followed by its nested keys, in schema order', () => {
    expect(docs.map((d) => d.path)).toEqual([
      'plain', 'count', 'maybe', 'password', 'size',
      'users', 'users[].name', 'users[].password', 'users[].admin',
      'policy', 'policy.length',
      'sites', 'sites{}.root', 'sites{}.tls', 'sites{}.tls.cert',
      'either', 'either.host', 'either.port',
      'nothing',
    ]);
  });

  it('a default made by a function is shown as its value; no description, no checks: no keys', () => {
    const [d] = describeVars(z.object({ at: z.array(z.string()).default(() => ['x']) }));
    expect(d).toEqual({ name: 'at', path: 'at', type: 'list of string', required: false, default: ['x'], secret: false });
  });

  it('the text: header with the notation, nested keys indented, flags after the type', () => {
    const text = roleDocText({ name: 'demo', description: 'a demo role', dir: '/roles/demo', vars: docs });
    expect(text.split('\n').slice(0, 6)).toEqual([
      'demo — a demo role',
      '  from /roles/demo',
      '',
      'Each variable: NAME: TYPE; required, default: VALUE or optional; secret: masked in every output.',
      'Keys nested in a variable: a.b is key b of object a, a[].b key b of each item of list a, a{}.b key b of each value of map a (required there: within its parent).',
      'Below each: what it is for, and what its checks require (checked: …).',
    ]);
    expect(text).toContain('\n  count: integer; default: 10\n      how many\n');
    expect(text).toContain('\n  size: string; default: "50M"\n      checked: a size like 50M\n');
    expect(text).toContain('\n    users[].password: string (at least 8 characters); required, secret\n');
    expect(text).toContain('\n      sites{}.tls.cert: string; required\n');
  });

  it.each([
    [10, '10'],
    ['x', '"x"'],
    [['a', 'b'], '["a", "b"]'],
    [{ a: 1, 'b c': [true] }, '{a: 1, "b c": [true]}'],
    [null, 'null'],
  ])('formatValue(%j) → %s', (v, text) => {
    expect(formatValue(v)).toBe(text);
  });
});
