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
  ])('%j → %j', (pattern, want) => {
    expect(matchHosts(inv(), pattern)).toEqual(want);
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
