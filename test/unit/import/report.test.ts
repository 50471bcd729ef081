// The import's report as a person reads it: every section says where a thing is and what happens to it.
import { describe, expect, it } from 'vitest';
import { importReport, type ImportReportJson } from '../../../src/import/report.ts';

const full: ImportReportJson = {
  host: 'hs1',
  file: '/inv/host_vars/hs1.yml',
  roles: ['postgres', 'synapse'],
  secrets: [
    { var: 'synapse_db_password', from: 'conf.d/database.yaml: database.args.password', as: 'vault' },
    { var: 'postgres_users.0.password', from: 'a hash only', as: 'HS1_POSTGRES_USERS_0_PASSWORD' },
  ],
  synapseChanges: [{ key: 'presence', reason: 'the roles write it in conf.d/server.yaml' }],
  kept: [
    { file: 'conf.d/public.yaml', key: 'default_room_version', via: 'synapse_extra_config' },
    { file: 'conf.d/contact.yaml', key: 'admin_contact', via: 'left in place' },
    { file: '/etc/nginx/sites-enabled/matrix', line: 14, key: 'add_header', via: 'nginx_vhost_extra' },
  ],
  notImported: [{ file: '/etc/turnserver.conf', line: 9, key: 'user', why: 'credentials' }],
  replacedFiles: ['conf.d/public.yaml'],
};

describe('importReport', () => {
  const text = importReport(full, 'inv/host_vars/hs1.yml', 'inv');
  it.each([
    ['the file and roles', 'Imported hs1 into inv/host_vars/hs1.yml: roles postgres, synapse'],
    ['a vault secret with its source', '  synapse_db_password  from conf.d/database.yaml: database.args.password'],
    ['an !env secret by the variable to set', '  HS1_POSTGRES_USERS_0_PASSWORD  for postgres_users.0.password  (a hash only)'],
    ['a replaced file', '  conf.d/public.yaml\n'],
    ['a kept setting and its hatch', '  conf.d/public.yaml default_room_version  →  synapse_extra_config'],
    ['a kept line', '  /etc/nginx/sites-enabled/matrix:14 add_header  →  nginx_vhost_extra'],
    ['a setting left in place', '  conf.d/contact.yaml admin_contact\n'],
    ['a Synapse change and its cause', '  presence: the roles write it in conf.d/server.yaml'],
    ['what is not imported', '  /etc/turnserver.conf:9 user: credentials'],
    ['the next step', 'Next: mxplay run PLAYBOOK -i inv -l hs1 --check'],
  ])('shows %s', (_, line) => expect(text).toContain(line));

  it('says Synapse keeps its configuration when nothing changes, and leaves out empty sections', () => {
    const quiet = importReport({ ...full, secrets: [], synapseChanges: [], kept: [], notImported: [], replacedFiles: [] }, 'f', 'inv');
    expect(quiet).toContain("Synapse's effective configuration stays as it is");
    expect(quiet).not.toMatch(/Secrets|Not imported|kept through|removes/);
  });
});
