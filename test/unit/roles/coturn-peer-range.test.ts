// coturn's denied-peer-ip/allowed-peer-ip take an address or a range A-B, not CIDR: peerRange turns
// the inventory's CIDR blocks into the first and last address of the block.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerRange } from '../../../roles/coturn/role.ts';

describe('peerRange: a CIDR block as the A-B range coturn reads', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0-10.255.255.255'],
    ['100.64.0.0/10', '100.64.0.0-100.127.255.255'],
    ['172.16.0.0/12', '172.16.0.0-172.31.255.255'],
    ['10.231.0.77/24', '10.231.0.0-10.231.0.255'], // host bits set: the block that holds it
    ['192.0.2.1/32', '192.0.2.1-192.0.2.1'],
    ['0.0.0.0/0', '0.0.0.0-255.255.255.255'],
    ['fc00::/7', 'fc00:0:0:0:0:0:0:0-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['fe80::/10', 'fe80:0:0:0:0:0:0:0-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['2001:db8:1::5/48', '2001:db8:1:0:0:0:0:0-2001:db8:1:ffff:ffff:ffff:ffff:ffff'],
    ['::ffff:0.0.0.0/96', '0:0:0:0:0:ffff:0:0-0:0:0:0:0:ffff:ffff:ffff'],
    ['::1/128', '0:0:0:0:0:0:0:1-0:0:0:0:0:0:0:1'],
  ])('%s → %s', (cidr, range) => expect(peerRange(cidr)).toBe(range));

  it('an address or a range is passed on as it is', () => {
    expect(peerRange('192.0.2.7')).toBe('192.0.2.7');
    expect(peerRange('::1')).toBe('::1');
    expect(peerRange('10.0.0.1-10.0.0.9')).toBe('10.0.0.1-10.0.0.9');
  });

  it('for any IPv4 block: both ends are in it, and it has 2^(32-len) addresses', () => {
    const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (addr, len) => {
      const [lo, hi] = peerRange(`${addr}/${len}`).split('-').map(toInt) as [number, number];
      const size = 2 ** (32 - len);
      expect(hi - lo + 1).toBe(size);
      expect(lo % size).toBe(0);
      expect(toInt(addr)).toBeGreaterThanOrEqual(lo);
      expect(toInt(addr)).toBeLessThanOrEqual(hi);
    }));
  });
});
