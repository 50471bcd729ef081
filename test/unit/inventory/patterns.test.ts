import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../../src/inventory/inventory.ts';
import { matchHosts, requireHosts } from '../../../src/inventory/patterns.ts';

/** web1, web2 (web, prod), db1 (db, prod), stage-web (web, staging), lone (no group). */
function inv(): Inventory {
  const groups: Record<string, string[]> = {
    all: ['web1', 'web2', 'db1', 'stage-web', 'lone'],
    web: ['web1', 'web2', 'stage-web'],
    db: ['db1'],
    prod: ['web1', 'web2', 'db1'],
    staging: ['stage-web'],
  };
  return {
    source: 'test',
    hosts: new Map(groups.all!.map((n) => [n, { name: n, groups: [], vars: {}, origins: {} }])),
    groups: new Map(Object.entries(groups).map(([g, h]) => [g, new Set(h)])),
    secretValues: [],
  };
}

describe('matchHosts', () => {
  it.each([
    ['all', ['web1', 'web2', 'db1', 'stage-web', 'lone']],
    ['*', ['web1', 'web2', 'db1', 'stage-web', 'lone']],
    ['web', ['web1', 'web2', 'stage-web']],
    ['db1', ['db1']],
    ['db:web', ['web1', 'web2', 'db1', 'stage-web']], // inventory order, not pattern order
    ['db,web1', ['web1', 'db1']],
    ['db, web1', ['web1', 'db1']],
    ['web:&prod', ['web1', 'web2']],
    ['web:!staging', ['web1', 'web2']],
    ['web:&prod:!web2', ['web1']],
    ['!web2:web', ['web1', 'stage-web']], // exclusions apply whatever their position
    ['!web', ['db1', 'lone']], // only exclusions: start from all (Ansible)
    ['&prod', ['web1', 'web2', 'db1']],
    ['web*', ['web1', 'web2', 'stage-web']], // glob over group names too: web matches
    ['*-web', ['stage-web']],
    ['web?', ['web1', 'web2']],
    ['st*:!web', []],
    ['nope', []],
    ['web.', []], // '.' is literal in globs
    ['', []],
    ['!web,', ['db1', 'lone']], // an empty term is no term: still only exclusions
    ['d?1', ['db1']],
    ['????', ['web1', 'web2', 'db1', 'lone']], // only ? marks: four-letter hosts and the group prod
  ])('%j → %j', (pattern, want) => {
    expect(matchHosts(inv(), pattern)).toEqual(want);
  });
});

describe('globs: only * and ? are special', () => {
  const named = (...names: string[]): Inventory => ({
    source: 'test',
    hosts: new Map(names.map((n) => [n, { name: n, groups: [], vars: {}, origins: {} }])),
    groups: new Map([['all', new Set(names)]]),
    secretValues: [],
  });
  it.each([
    ['hs1.example.*', ['hs1.example.org']],
    ['h(s)1*', ['h(s)1']],
    ['h+*', ['h+1']],
  ])('%s', (pattern, want) => expect(matchHosts(named('hs1.example.org', 'hs1xexample.org', 'h(s)1', 'hs1', 'h+1', 'hh1'), pattern)).toEqual(want));

  it('an inventory without an all group: all and * are still every host', () => {
    const i = named('a', 'b');
    i.groups = new Map();
    expect(matchHosts(i, 'all')).toEqual(['a', 'b']);
    expect(matchHosts(i, '*')).toEqual(['a', 'b']);
  });

  it('no host at all: said so', () => {
    expect(() => requireHosts(named(), 'x', 'hosts')).toThrow("hosts 'x' matches no host (hosts: none; groups: all)");
  });
});

describe('requireHosts', () => {
  it('returns the hosts', () => {
    expect(requireHosts(inv(), 'db', '--limit')).toEqual(['db1']);
  });
  it('no match is an error naming the pattern, the hosts and the groups', () => {
    expect(() => requireHosts(inv(), 'dbb', '--limit')).toThrow(
      "--limit 'dbb' matches no host (hosts: web1, web2, db1, stage-web, lone; groups: all, web, db, prod, staging)",
    );
  });
});
