import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { UserError } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { inputDigest, secretsDigest } from '../../../src/plan-file/digest.ts';
import { MXPLAY_VERSION } from '../../../src/paths.ts';
import { parsePlanFile, type PlanExtraVar } from '../../../src/plan-file/format.ts';
import { PLAN_FORMAT } from '../../../src/plan-file/formats.ts';
import { buildInputFiles, compareInputs, digestFiles, extraVarsForApply, registerLikelySecrets, storedExtraVars } from '../../../src/plan-file/inputs.ts';
import { BUILTIN_ROLES } from '../../../src/roles/loader.ts';
import { tempDir, writeTree } from '../helpers.ts';

/** One registry for the file, as one run has one. */
const reg = new SecretRegistry();

describe('storedExtraVars: -e as the plan keeps it', () => {
  reg.add('known-secret-value-1');
  const rows: { name: string; args: string[]; want: PlanExtraVar[] }[] = [
    { name: 'plain values kept as given', args: ['synapse_max_upload_size=100M', '@vars.yml'], want: ['synapse_max_upload_size=100M', '@vars.yml'] },
    { name: 'a key that looks secret: only the key', args: ['db_password=hunter2hunter2'], want: [{ key: 'db_password', secret: true }] },
    { name: 'a value known as a secret, whatever its key', args: ['turn_key=known-secret-value-1'], want: [{ key: 'turn_key', secret: true }] },
  ];
  for (const r of rows) it(r.name, () => expect(storedExtraVars(r.args, reg)).toEqual(r.want));
});

describe('extraVarsForApply: the plan\'s -e, with its secrets given again', () => {
  const saved: PlanExtraVar[] = ['synapse_max_upload_size=100M', { key: 'db_password', secret: true }];
  const rows: { name: string; given: string[]; want: string[] | RegExp }[] = [
    { name: 'the secret given again: the plan\'s order', given: ['db_password=s3cret-s3cret'], want: ['synapse_max_upload_size=100M', 'db_password=s3cret-s3cret'] },
    { name: 'the secret missing: says which and how', given: [], want: /give them again, e\.g\. mxplay apply plan\.json -e db_password=…/ },
    { name: 'another variable: refused, it would make another plan', given: ['db_password=x', 'synapse_max_upload_size=1G'], want: /-e only for the secret extra vars the plan was made with \(db_password\); got 'synapse_max_upload_size'/ },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (Array.isArray(r.want)) expect(extraVarsForApply(saved, r.given, 'plan.json')).toEqual(r.want);
      else expect(() => extraVarsForApply(saved, r.given, 'plan.json')).toThrow(r.want);
    });
  }
});

describe('input files and their digests', () => {
  function project() {
    const dir = tempDir();
    writeTree(dir, {
      'site.yml': '- hosts: all\n  tasks:\n    - file: { path: /etc/motd, content: "hi\\n" }\n',
      // group_vars/matrix/ needs a group matrix: vars of a group the inventory lacks are refused.
      'inventory/prod/hosts.yml': 'all:\n  children:\n    matrix:\n      hosts:\n        hs1: {}\n',
      'inventory/prod/group_vars/all.yml': 'mxplay_master_secret: master-0123456789abcdef\n',
      'inventory/prod/group_vars/matrix/db.yaml': 'x: 1\n',
      'inventory/prod/group_vars/notes.txt': 'not read by the inventory\n',
      'inventory/prod/host_vars/hs1.yml': 'ansible_host: 10.0.0.1\n',
      'roles/motd/role.ts': 'export default {}\n',
      'roles/motd/templates/motd.ejs': 'hi\n',
      'vars.yml': 'a: 1\n',
    });
    return dir;
  }

  it('the playbook, the inventory and its vars files, every role file, -e files', () => {
    const dir = project();
    const files = buildInputFiles(loadPlaybook(join(dir, 'site.yml')), loadInventory(join(dir, 'inventory/prod')), ['@' + join(dir, 'vars.yml'), 'k=v']);
    const mine = files.filter((f) => f.startsWith(dir)).map((f) => relative(dir, f));
    expect(mine).toEqual([
      'site.yml',
      'inventory/prod/hosts.yml',
      'inventory/prod/group_vars/all.yml',
      'inventory/prod/group_vars/matrix/db.yaml',
      'inventory/prod/host_vars/hs1.yml',
      'roles/motd/role.ts',
      'roles/motd/templates/motd.ejs',
      'vars.yml',
    ]);
    expect(files.some((f) => f.startsWith(join(BUILTIN_ROLES, 'synapse')))).toBe(true);
  });

  it('an edit is found by file; a changed secret value only by the secrets digest, never by a file digest', () => {
    const dir = project();
    const all = join(dir, 'inventory/prod/group_vars/all.yml');
    const inv = loadInventory(join(dir, 'inventory/prod'));
    registerLikelySecrets(inv, [], reg);
    reg.add('master-0123456789abcdef');
    const before = digestFiles([all], reg);
    writeFileSync(all, 'mxplay_master_secret: master-0123456789abcdef\nnew_key: 1\n');
    expect(compareInputs(before, digestFiles([all], reg))).toEqual([`${all} changed since the plan was made`]);
    // The file digest is of the masked text: it cannot be used to test a guess of the secret,
    // and a rotated secret leaves it as it was ...
    expect(inputDigest('mxplay_master_secret: master-0123456789abcdef\n', reg)).toBe(inputDigest('mxplay_master_secret: ********\n', reg));
    // ... while the digest of the run's secret values changes.
    const secrets = secretsDigest(reg);
    reg.add('master-rotated-0123456789');
    expect(secretsDigest(reg)).not.toBe(secrets);
  });

  it('secret-looking inventory values and -e values are registered even if no role declares them', () => {
    const dir = tempDir();
    writeTree(dir, { 'hosts.yml': 'all:\n  vars:\n    backup_api_token: tok-abcdef-123\n    plain: visible\n  hosts: { h: {} }\n' });
    registerLikelySecrets(loadInventory(join(dir, 'hosts.yml')), ['smtp_password=mail-pass-987', 'size=10'], reg);
    expect(storedExtraVars(['x=tok-abcdef-123', 'y=mail-pass-987', 'z=visible'], reg)).toEqual([
      { key: 'x', secret: true }, { key: 'y', secret: true }, 'z=visible',
    ]);
  });
});

describe('parsePlanFile', () => {
  const valid = {
    format: PLAN_FORMAT, mxplay: MXPLAY_VERSION, created: '2025-01-01T00:00:00Z',
    inputs: { playbook: 'site.yml', inventory: 'prod', extraVars: [], files: [], secrets: 'a'.repeat(64) },
    summary: { changes: 0, hosts: 0, failed: 0 }, hosts: [],
  };
  const rows: { name: string; text: string; error?: RegExp }[] = [
    { name: 'a plan of this version', text: JSON.stringify(valid) },
    { name: 'not JSON', text: '### mxplay plan', error: /^p\.json: not a plan file \(not JSON/ },
    { name: 'another file', text: '{"all": {}}', error: /^p\.json: not an mxplay plan of format mxplay-plan\/1 \(format: null\)/ },
    { name: 'damaged', text: JSON.stringify({ ...valid, hosts: [{ host: 'h' }] }), error: /^p\.json: damaged plan: hosts\.0\.status/ },
    { name: 'another mxplay version', text: JSON.stringify({ ...valid, mxplay: '0.0.1' }), error: /made by mxplay 0\.0\.1, this is mxplay .*: make a new plan/ },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (!r.error) return void expect(parsePlanFile(r.text, 'p.json').inputs.playbook).toBe('site.yml');
      try {
        parsePlanFile(r.text, 'p.json');
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        expect(String(e)).toMatch(r.error);
      }
    });
  }
});

describe("an inline -e '{...}' in a plan", () => {
  it('without a secret: kept as written', () => {
    expect(storedExtraVars(['{"synapse_max_upload_size": "1G", "list": [1, 2]}'], new SecretRegistry())).toEqual(['{"synapse_max_upload_size": "1G", "list": [1, 2]}']);
  });

  it.each([
    ['a secret-looking key', '{"db_password": "pw-1"}'],
    ['a secret-looking key, nested', '{"synapse": {"ldap": {"bind_password": "pw-2"}}}'],
    ['a value known as a secret', '{"anything": "known-inline-secret"}'],
  ])('with %s: refused, naming no value', (_, arg) => {
    const secrets = new SecretRegistry();
    secrets.add('known-inline-secret');
    expect(() => storedExtraVars([arg], secrets)).toThrow(/holding a secret cannot go into a plan.*-e @FILE/);
  });

  it('its secret-looking values are registered, so every output masks them', () => {
    const secrets = new SecretRegistry();
    registerLikelySecrets(loadInventory('192.0.2.1,'), ['{"a": {"api_token": "tok-123456"}, "b": "plain"}'], secrets);
    expect(secrets.has('tok-123456')).toBe(true);
    expect(secrets.has('plain')).toBe(false);
  });

  it('apply refuses one without showing it', () => {
    const err = (() => {
      try {
        extraVarsForApply([], ['{"db_password": "pw-3"}'], 'plan.json');
      } catch (e) {
        return String(e);
      }
      return '';
    })();
    expect(err).toMatch(/got an inline -e '\{\.\.\.\}'/);
    expect(err).not.toContain('pw-3');
  });
});
