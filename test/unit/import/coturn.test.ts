// /etc/turnserver.conf read back into the coturn role's variables.
import { describe, expect, it } from 'vitest';
import { importCoturn, turnserverOptions } from '../../../src/import/coturn.ts';
import { FoundSecret } from '../../../src/import/model.ts';

const F = '/etc/turnserver.conf';

describe('turnserverOptions', () => {
  it.each([
    ['name=value', 'realm=turn.example.org', { name: 'realm', value: 'turn.example.org' }],
    ['name value', 'realm turn.example.org', { name: 'realm', value: 'turn.example.org' }],
    ['a leading --', '--min-port=49152', { name: 'min-port', value: '49152' }],
    ['a flag', 'no-tcp-relay', { name: 'no-tcp-relay', value: undefined }],
    ['a quoted value', 'static-auth-secret=" a b "', { name: 'static-auth-secret', value: ' a b ' }],
  ])('%s', (_, text, want) => {
    expect(turnserverOptions(text)).toEqual([{ ...want, line: 1 }]);
  });
  it('skips comments and blank lines, keeping line numbers', () => {
    expect(turnserverOptions('# x\n\nfingerprint\n')).toEqual([{ name: 'fingerprint', value: undefined, line: 3 }]);
  });
});

describe('importCoturn', () => {
  const text = [
    'listening-port=3479', 'tls-listening-port=5350', 'listening-ip=10.0.0.5', 'listening-ip=::1', 'external-ip=203.0.113.5/10.0.0.5',
    'min-port=50000', 'max-port=50100', 'realm=turn.example.org', 'fingerprint', 'use-auth-secret', 'static-auth-secret=s3cret',
    'no-tcp-relay', 'denied-peer-ip=10.0.0.0-10.255.255.255', 'allowed-peer-ip=10.0.0.7', 'user-quota=4', 'total-quota=100',
    'cert=/etc/ssl/t.crt', 'pkey=/etc/ssl/t.key', 'stale-nonce=600', 'user=bob:secret', 'no-cli',
  ].join('\n');
  const synapse = { turn_uris: ['turns:turn.example.org?transport=tcp'], turn_shared_secret: 's3cret', turn_user_lifetime: '1h', turn_allow_guests: false };
  const r = importCoturn(F, text, synapse, () => '/etc/matrix-synapse/conf.d/voip.yaml');

  it('maps every option the role writes to its variable', () => {
    expect(r.vars).toMatchObject({
      coturn_listening_port: 3479, coturn_tls_listening_port: 5350, coturn_listening_ips: ['10.0.0.5', '::1'],
      coturn_external_ip: '203.0.113.5/10.0.0.5', coturn_min_port: 50000, coturn_max_port: 50100, coturn_realm: 'turn.example.org',
      coturn_denied_peer_ips: ['10.0.0.0-10.255.255.255'], coturn_allowed_peer_ips: ['10.0.0.7'], coturn_user_quota: 4, coturn_total_quota: 100,
      coturn_tls_cert: '/etc/ssl/t.crt', coturn_tls_key: '/etc/ssl/t.key',
      coturn_turn_uris: synapse.turn_uris, coturn_turn_user_lifetime: '1h', coturn_turn_allow_guests: false,
    });
    expect(r.vars.coturn_shared_secret).toEqual(new FoundSecret('s3cret', `${F}: static-auth-secret (line 11)`));
  });
  it('keeps an option no variable covers through coturn_extra_options, with its line', () => {
    expect(r.vars.coturn_extra_options).toEqual(['stale-nonce=600']);
    expect(r.kept).toEqual([{ file: F, line: 19, key: 'stale-nonce', via: 'coturn_extra_options' }]);
  });
  it('never copies a credential line; reports it', () => {
    expect(JSON.stringify(r.vars)).not.toContain('bob');
    expect(r.notImported).toEqual([expect.objectContaining({ file: F, line: 20, key: 'user' })]);
  });
  it('a file denying no peer is imported as denying none (the role would deny private networks)', () => {
    expect(importCoturn(F, 'realm=x\nuse-auth-secret\n', undefined, () => '').vars).toMatchObject({ coturn_denied_peer_ips: [], coturn_synapse_fragment: false });
  });
  it('reports secrets that differ between Synapse and coturn, and a coturn without use-auth-secret', () => {
    const x = importCoturn(F, 'realm=x\nstatic-auth-secret=a\n', { turn_uris: ['turn:x'], turn_shared_secret: 'b', turn_user_lifetime: 86400000 }, () => 'voip.yaml');
    expect(x.notImported.map((n) => n.key)).toEqual(['use-auth-secret', 'turn_shared_secret']);
    expect(x.vars.coturn_turn_user_lifetime).toBe('86400000ms');
  });
});
