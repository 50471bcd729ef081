import { describe, expect, it } from 'vitest';
import { serverName } from '../../../src/roles/schemas.ts';

describe('serverName: a Matrix server name, nothing a config line or debconf could misread', () => {
  it.each([
    ['example.com', true],
    ['example.com:8448', true],
    ['localhost', true],
    ['10.0.0.1', true],
    ['10.0.0.1:443', true],
    ['[::1]', true],
    ['[2001:db8::1]:8448', true],
    ['', false],
    ['example.com:0', false],
    ['example.com:99999', false],
    ['exa mple.com', false],
    ['example.com\nmatrix-synapse/report-stats boolean true', false],
    ['example.com;', false],
    ['::1', false],
    ['[not-ip]', false],
    ['ex"ample.com', false],
  ])('%j → %s', (name, ok) => expect(serverName.safeParse(name).success).toBe(ok));
});
