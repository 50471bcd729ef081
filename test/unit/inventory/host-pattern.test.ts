import { describe, expect, it } from 'vitest';
import { expandHostPattern } from '../../../src/inventory/host-pattern.ts';

describe('expandHostPattern: ranges and ports as Ansible reads them', () => {
  it.each<[string, string[], number?]>([
    ['web1', ['web1']],
    ['web1:2222', ['web1'], 2222],
    ['lab[3:4]', ['lab3', 'lab4']],
    ['web[01:03].example.org', ['web01.example.org', 'web02.example.org', 'web03.example.org']],
    ['web[8:11]', ['web8', 'web9', 'web10', 'web11']],
    ['web[08:11]', ['web08', 'web09', 'web10', 'web11']],
    ['s[1:10:4]', ['s1', 's5', 's9']],
    ['s[:2]', ['s0', 's1', 's2']],
    ['db[a:c]', ['dba', 'dbb', 'dbc']],
    ['db[y:B]', ['dby', 'dbz', 'dbA', 'dbB']],
    ['db[a:e:2]', ['dba', 'dbc', 'dbe']],
    ['r[1:2]-[a:b]', ['r1-a', 'r1-b', 'r2-a', 'r2-b']],
    ['web[1:2]:2200', ['web1', 'web2'], 2200],
    ['10.0.0.[1:3]', ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['2001:db8::1', ['2001:db8::1']],
    ['[2001:db8::1]:22', ['2001:db8::1'], 22],
    ['[::1]:22', ['::1'], 22],
    ['h:1', ['h'], 1],
    ['h:65535', ['h'], 65535],
    ['  web1:2222  ', ['web1'], 2222],
    ['n[0:1]', ['n0', 'n1']],
    ['n[5:5]', ['n5']],
    ['n[c:c]', ['nc']],
    ['n[0:2:5]', ['n0']],
    ['n[0:100000]', Array.from({ length: 100_001 }, (_, i) => `n${i}`)],
  ])('%s', (pattern, hosts, port) => {
    expect(expandHostPattern(pattern)).toEqual(port === undefined ? { hosts } : { hosts, port });
  });

  it.each<[string, RegExp]>([
    ['w[5:1]', /ends before it begins/],
    ['w[c:a]', /ends before it begins/],
    ['w[1:]', /has no end/],
    ['w[01:100]', /same number of digits/],
    ['w[1:3:0]', /step .* at least 1/],
    ['w[1:2:x]', /step/],
    ['w[1]', /\[begin:end\]/],
    ['w[a:3]', /numbers .* or single letters/],
    ['w[1:2', /without its '\]'/],
    ['w1]', /without its '\['/],
    ['web:ssh', /must be a port number/],
    ['web:70000', /not a port number/],
    ['', /empty host name/],
    ['   ', /empty host name/],
    [':22', /no host name before the port/],
    ['h:0', /0 is not a port number \(1-65535\)/],
    ['h:65536', /not a port number/],
    ['h:22x', /must be a port number/],
    ['h:x22', /must be a port number/],
    ['[::1]:22x', /must be|port/],
    ['n[1:2:1x]', /step/],
    ['n[1:2:x1]', /step/],
    ['n[1:22x]', /numbers .* or single letters/],
    ['n[1:x22]', /numbers .* or single letters/],
    ['n[1x:3]', /numbers .* or single letters/],
    ['n[x1:3]', /numbers .* or single letters/],
    ['n[ab:c]', /numbers .* or single letters/],
    ['n[a:bc]', /numbers .* or single letters/],
    ['n[ba:c]', /numbers .* or single letters/],
    ['n[a:cb]', /numbers .* or single letters/],
    ['n[0:100001]', /more than 100000 hosts/],
    ['n[50000:150001]', /more than 100000 hosts/],
  ])('%s is an error', (pattern, message) => {
    expect(() => expandHostPattern(pattern)).toThrow(message);
  });
});

describe('leading zeros: the width of the numbers', () => {
  it.each<[string, string[]]>([
    ['n[0:2]', ['n0', 'n1', 'n2']],
    ['n[1:3]', ['n1', 'n2', 'n3']],
    ['n[10:12]', ['n10', 'n11', 'n12']],
    ['n[00:02]', ['n00', 'n01', 'n02']],
  ])('%s', (pattern, hosts) => expect(expandHostPattern(pattern).hosts).toEqual(hosts));

  it('a single 0 is no width: [0:10] needs no two-digit begin', () => {
    expect(expandHostPattern('n[0:10]').hosts).toHaveLength(11);
  });
});
