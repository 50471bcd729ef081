// Synapse's merged configuration read back into the synapse role's variables, and where each
// hand-written setting goes once the roles' own fragments are known.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { FoundSecret, type SynapseFile } from '../../../src/import/model.ts';
import { importSynapse, placeHandWritten, sourceOf } from '../../../src/import/synapse.ts';

const HS = '/etc/matrix-synapse/homeserver.yaml';
const D = '/etc/matrix-synapse/conf.d/';
const pg = { name: 'psycopg2', args: { user: 'synapse_user', password: 'db pw', database: 'synapse', host: 'localhost', port: 5432 } };
const debian = { 'matrix-synapse': true };

function merged(files: SynapseFile[]): Record<string, unknown> {
  return Object.assign({}, ...files.map((f) => f.data));
}
function imported(data: Record<string, unknown>, extra: SynapseFile[] = []) {
  const files = [{ path: HS, data: { database: pg, public_baseurl: 'https://m.example.org/', ...data } }, ...extra];
  return importSynapse(files, merged(files), debian, 'hs1');
}

describe('importSynapse', () => {
  it.each([
    ['closed when registration is off', { enable_registration: false }, 'closed'],
    ['closed when registration is not set (Synapse\'s default)', {}, 'closed'],
    ['invite-token', { enable_registration: true, registration_requires_token: true }, 'invite-token'],
    ['open-email', { enable_registration: true, registrations_require_3pid: ['email'] }, 'open-email'],
  ])('registration: %s', (_, data, mode) => {
    expect(imported(data).vars.synapse_registration).toBe(mode);
  });

  it('reports open registration without a check, which no mode expresses', () => {
    const r = imported({ enable_registration: true, enable_registration_without_verification: true });
    expect(r.vars.synapse_registration).toBeUndefined();
    expect(r.notImported).toEqual([expect.objectContaining({ file: HS, key: 'enable_registration' })]);
  });

  it('reads the client listener, the database and the secrets, each secret with the file and key it came from', () => {
    const r = imported({
      server_name: 'example.org',
      public_baseurl: 'https://matrix.example.org/',
      listeners: [
        { port: 9093, type: 'http', resources: [{ names: ['replication'] }] },
        { port: 8018, type: 'http', bind_addresses: ['127.0.0.1'], x_forwarded: true, resources: [{ names: ['client', 'federation'] }, { names: ['consent'] }] },
      ],
      macaroon_secret_key: 'mac',
      form_secret: 'form',
    }, [{ path: `${D}keys.yaml`, data: { registration_shared_secret: 'reg' } }]);
    expect(r.vars).toMatchObject({
      synapse_server_name: 'example.org',
      synapse_public_baseurl: 'https://matrix.example.org/',
      synapse_package_source: 'debian',
      synapse_http_port: 8018,
      synapse_bind_addresses: ['127.0.0.1'],
      synapse_listener_resources: ['client', 'federation', 'consent'],
      synapse_db_host: 'localhost',
      synapse_db_port: 5432,
      synapse_db_name: 'synapse',
      synapse_db_user: 'synapse_user',
    });
    expect(r.vars.synapse_db_password).toEqual(new FoundSecret('db pw', `${HS}: database.args.password`));
    expect(r.vars.synapse_registration_shared_secret).toEqual(new FoundSecret('reg', `${D}keys.yaml: registration_shared_secret`));
    expect(r.vars.synapse_macaroon_secret_key).toEqual(new FoundSecret('mac', `${HS}: macaroon_secret_key`));
  });

  it.each([
    ['max_upload_size as a number of bytes', { max_upload_size: 1048576 }, { synapse_max_upload_size: '1048576' }],
    ['presence off', { presence: { enabled: false } }, { synapse_presence: false }],
    ['password policy and local passwords', { password_config: { localdb_enabled: false, policy: { enabled: true, minimum_length: 15, require_digit: true } } }, { synapse_password_localdb_enabled: false, synapse_password_policy: { minimum_length: 15, require_digit: true } }],
    ['MAU limit', { limit_usage_by_mau: true, max_mau_value: 50 }, { synapse_mau_limit: 50 }],
    ['URL previews with their blocklist', { url_preview_enabled: true, url_preview_ip_range_blacklist: ['10.0.0.0/8'] }, { synapse_url_previews: true, synapse_url_preview_ip_range_blacklist: ['10.0.0.0/8'] }],
    ['rate limits and key servers', { rc_message: { per_second: 1, burst_count: 5 }, trusted_key_servers: [] }, { synapse_rc_message: { per_second: 1, burst_count: 5 }, synapse_trusted_key_servers: [] }],
  ])('%s', (_, data, want) => {
    expect(imported(data).vars).toMatchObject(want);
  });

  it('leaves out a password policy that is off (the role then writes its own, reported as a change)', () => {
    expect(imported({ password_config: { policy: { enabled: false, minimum_length: 20 } } }).vars.synapse_password_policy).toBeUndefined();
  });

  it.each([
    ['SQLite named', { name: 'sqlite3', args: { database: '/var/lib/matrix-synapse/homeserver.db' } }, /uses sqlite3/],
    ['no database key (Synapse\'s SQLite default)', undefined, /its default SQLite database/],
  ])('refuses a homeserver on %s: pointing it at PostgreSQL would lose every user and room', (_, database, message) => {
    const files = [{ path: HS, data: database ? { database } : {} }];
    const run = () => importSynapse(files, merged(files), debian, 'hs1');
    expect(run).toThrow(UserError);
    expect(run).toThrow(message);
  });

  it("matrix.org's package needs its key: said, not guessed", () => {
    const files = [{ path: HS, data: { database: pg } }];
    const r = importSynapse(files, merged(files), { 'matrix-synapse-py3': true }, 'hs1');
    expect(r.vars.synapse_package_source).toBe('matrix.org');
    expect(r.notImported.map((n) => n.why).join()).toContain('synapse_matrix_org_keyring');
  });
});

describe('sourceOf', () => {
  it('names the last file that sets a key: the one Synapse takes it from', () => {
    const files = [{ path: HS, data: { a: 1 } }, { path: `${D}10.yaml`, data: { a: 2 } }, { path: `${D}20.yaml`, data: { b: 1 } }];
    expect(sourceOf(files, 'a')).toBe(`${D}10.yaml`);
    expect(sourceOf(files, 'b')).toBe(`${D}20.yaml`);
  });
});

describe('placeHandWritten', () => {
  const owned = new Set(['database', 'listeners', 'form_secret']);
  const roleFiles = new Set([`${D}database.yaml`, `${D}listeners.yaml`, `${D}secrets.yaml`]);
  const files: SynapseFile[] = [
    { path: HS, data: { pid_file: '/run/x.pid', database: { name: 'sqlite3' } } },
    { path: `${D}database.yaml`, data: { database: pg } },
    { path: `${D}keys.yaml`, data: { form_secret: 'f', admin_contact: 'mailto:a@example.org' } },
    { path: `${D}voip.yaml`, data: { form_secret: 'g', email: { smtp_host: 'x' } } },
    { path: `${D}zz-mine.yaml`, data: { allow_public_rooms_over_federation: true } },
  ];
  const other = new Map([['email', 'the synapse_email variables (role synapse_email)']]);
  const placed = placeHandWritten(files, Object.assign({}, ...files.map((f) => f.data)), owned, roleFiles, other);

  it('replaces the hand-written files holding a key a role writes, not the roles\' own paths nor homeserver.yaml', () => {
    expect(placed.replacedFiles).toEqual([`${D}keys.yaml`, `${D}voip.yaml`]);
  });
  it('moves their other keys to synapse_extra_config, with the value Synapse reads', () => {
    expect(placed.extra).toEqual({ admin_contact: 'mailto:a@example.org' });
    expect(placed.kept).toContainEqual({ file: `${D}keys.yaml`, key: 'admin_contact', via: 'synapse_extra_config' });
  });
  it('reports a key of a role not imported, which the run would drop with its file', () => {
    expect(placed.notImported).toEqual([expect.objectContaining({ file: `${D}voip.yaml`, key: 'email', why: expect.stringContaining('the synapse_email variables (role synapse_email)') })]);
  });
  it('leaves files without a role\'s key where they are, and says so', () => {
    expect(placed.kept).toContainEqual({ file: `${D}zz-mine.yaml`, key: 'allow_public_rooms_over_federation', via: 'left in place' });
    expect(placed.kept).toContainEqual({ file: HS, key: 'pid_file', via: 'left in place' });
  });
});
