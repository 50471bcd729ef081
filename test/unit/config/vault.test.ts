import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { decryptVault, passwordFromFile, setVaultSecrets, vaultSecretsFromOptions, type VaultSecret } from '../../../src/config/vault.ts';
import { loadYaml } from '../../../src/config/yaml-file.ts';
import { buildWork } from '../../../src/engine/build.ts';
import { UserError } from '../../../src/errors.ts';
import { loadInventory } from '../../../src/inventory/inventory.ts';
import { loadPlaybook } from '../../../src/playbook/playbook.ts';
import { parseExtraVars } from '../../../src/roles/vars.ts';
import { SecretRegistry } from '../../../src/secrets/registry.ts';
import { tempDir, writeTree } from '../helpers.ts';

// Fixtures made with Debian's ansible-vault (ansible-core 2.14): see test/fixtures/vault/README.md.
// Passwords: password.txt is "mxplay-test-vault" (id default), prod-password.txt is "prod-vault-pw" (id prod).
const FIX = resolve(__dirname, '../../fixtures/vault');
const fixture = (name: string) => readFileSync(join(FIX, name), 'utf8');
const PW: VaultSecret = { id: 'default', password: 'mxplay-test-vault', source: 'password.txt' };
const PROD: VaultSecret = { id: 'prod', password: 'prod-vault-pw', source: 'prod-password.txt' };
const MASTER = 'correct-horse-battery-staple-master';
const hasAnsibleVault = spawnSync('ansible-vault', ['--version']).status === 0;

afterEach(() => setVaultSecrets([]));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof UserError) return e.toString();
    throw e;
  }
  throw new Error('no error');
}

describe('Ansible Vault: inline !vault values and whole files', () => {
  it('an inline !vault value (1.1) is decrypted and is a secret', () => {
    setVaultSecrets([PW]);
    const y = loadYaml(join(FIX, 'inline-master.yml'));
    expect(y.data).toEqual({ mxplay_master_secret: MASTER });
    expect(y.secrets).toEqual([MASTER]);
  });

  it('a 1.2 value with a vault id: its password is found among several, non-ASCII kept', () => {
    setVaultSecrets([PW, PROD]);
    expect(loadYaml(join(FIX, 'inline-prod-id.yml')).data).toEqual({ prod_secret: 'prod-only-secret-ü€' });
  });

  it('a whole encrypted vars file: parsed after decryption, every string in it a secret', () => {
    setVaultSecrets([PW]);
    const y = loadYaml(join(FIX, 'whole-vars.yml'));
    expect(y.data).toEqual({ mxplay_master_secret: MASTER, vault_db_password: "db-pass: with # and quotes'", vault_list: ['alpha-secret', 42] });
    expect(y.secrets.sort()).toEqual(['alpha-secret', MASTER, "db-pass: with # and quotes'"]);
    expect(y.lineOf(['vault_db_password'])).toBe(2);
  });

  it.each<[string, VaultSecret[], string, RegExp]>([
    ['no password given', [], 'inline-master.yml', /inline-master\.yml:1: Ansible Vault: this value is encrypted: give its password with --vault-password-file FILE/],
    ['a wrong password', [{ ...PW, password: 'wrong' }], 'inline-master.yml', /inline-master\.yml:1: Ansible Vault: decryption of this value failed: wrong vault password \(tried password\.txt\), or the text is damaged/],
    ['a vault id whose password is not given', [PW], 'inline-prod-id.yml', /inline-prod-id\.yml:1: Ansible Vault: decryption of this value failed \(vault id prod\): wrong vault password/],
    ['a wrong password for a whole file', [{ ...PW, password: 'wrong' }], 'whole-vars.yml', /whole-vars\.yml: Ansible Vault: decryption of this file failed/],
  ])('%s: a clear error naming the file and line', (_n, secrets, file, want) => {
    setVaultSecrets(secrets);
    expect(errorOf(() => loadYaml(join(FIX, file)))).toMatch(want);
  });

  it('a damaged text: the HMAC does not match, or the body is not a vault text at all', () => {
    setVaultSecrets([PW]);
    const text = fixture('whole-vars.yml');
    // One hex digit of the ciphertext changed, inside the hexlified envelope.
    const [header, ...body] = text.trim().split('\n');
    const inner = Buffer.from(body.join(''), 'hex').toString('latin1');
    const last = inner.at(-1) === '0' ? '1' : '0';
    const flipped = `${header}\n${Buffer.from(inner.slice(0, -1) + last, 'latin1').toString('hex')}\n`;
    expect(flipped).not.toBe(text);
    expect(errorOf(() => decryptVault(flipped, { file: 'x.yml' }))).toMatch(/^x\.yml: Ansible Vault: decryption of this value failed/);
    expect(errorOf(() => decryptVault('$ANSIBLE_VAULT;1.1;AES256\nzz\n', { file: 'x.yml', line: 3 }))).toMatch(/^x\.yml:3: .*not a complete vault text/);
    expect(errorOf(() => decryptVault('$ANSIBLE_VAULT;1.1;AES128\n6162\n', { file: 'x.yml' }))).toMatch(/unsupported cipher AES128/);
    expect(errorOf(() => decryptVault('$ANSIBLE_VAULT;2.0;AES256\n6162\n', { file: 'x.yml' }))).toMatch(/unsupported vault format/);
  });

  it('an encrypted group_vars file, -e @file and the inventory file itself; their values are secrets', () => {
    setVaultSecrets([PW]);
    const cwd = writeTree(tempDir(), { 'inventory/prod/hosts.yml': 'all:\n  hosts:\n    hs1:\n' });
    writeTree(cwd, { 'inventory/prod/group_vars/all.yml': fixture('whole-vars.yml') });
    const inv = loadInventory('prod', cwd);
    expect(inv.hosts.get('hs1')!.vars.vault_db_password).toBe("db-pass: with # and quotes'");
    expect(inv.secretValues).toContain(MASTER);
    const inv2 = loadInventory(join(FIX, 'inventory-vaulted.yml'), cwd);
    expect(inv2.hosts.get('hs1')!.vars.mxplay_master_secret).toBe(MASTER);
    expect(inv2.secretValues).toEqual([MASTER]);
    const e = parseExtraVars([`@${join(FIX, 'whole-vars.yml')}`]);
    expect(e.values.mxplay_master_secret).toBe(MASTER);
    expect(e.secretValues).toContain('alpha-secret');
  });

  // ansible-core is installed by `npm test` (test/lab/tools.ts): a missing one fails here, never skips.
  it('a value encrypted now by ansible-vault (both formats) is read back', () => {
    expect(hasAnsibleVault, 'ansible-vault is not installed: run `npx tsx test/lab/cli.ts tools` as root (npm test does)').toBe(true);
    const d = writeTree(tempDir(), { 'pw.txt': 'fresh-pw\n' });
    const enc = (args: string[]) => spawnSync('ansible-vault', ['encrypt_string', ...args, '--name', 'v', 'fresh value ✓'], { cwd: d, encoding: 'utf8' }).stdout;
    writeTree(d, { 'a.yml': enc(['--vault-password-file', 'pw.txt']) + '\n', 'b.yml': enc(['--vault-id', 'lab@pw.txt']) + '\n' });
    setVaultSecrets([passwordFromFile(join(d, 'pw.txt'))]);
    expect(loadYaml(join(d, 'a.yml')).data).toEqual({ v: 'fresh value ✓' });
    expect(readFileSync(join(d, 'b.yml'), 'utf8')).toMatch(/\$ANSIBLE_VAULT;1\.2;AES256;lab/);
    expect(loadYaml(join(d, 'b.yml')).data).toEqual({ v: 'fresh value ✓' });
  });
});

describe('vault passwords: files, scripts, --vault-id, prompt, ANSIBLE_VAULT_PASSWORD_FILE', () => {
  it('a file (white space around it is not part of it), a script, a -client script given --vault-id', async () => {
    const d = writeTree(tempDir(), {
      'pw.txt': '  from-file \n',
      'pw.sh': '#!/bin/sh\necho from-script\n',
      'pw-client.sh': '#!/bin/sh\necho "client:$1:$2"\n',
      'fails.sh': '#!/bin/sh\necho nope >&2\nexit 4\n',
      'empty.txt': '\n',
    });
    for (const f of ['pw.sh', 'pw-client.sh', 'fails.sh']) chmodSync(join(d, f), 0o755);
    expect(passwordFromFile(join(d, 'pw.txt')).password).toBe('from-file');
    expect(passwordFromFile(join(d, 'pw.sh')).password).toBe('from-script');
    const got = await vaultSecretsFromOptions({
      vaultIds: [`prod@${join(d, 'pw-client.sh')}`, 'dev@prompt'],
      passwordFiles: [join(d, 'pw.txt')],
      askVaultPass: true,
      env: { ANSIBLE_VAULT_PASSWORD_FILE: join(d, 'pw.sh') },
      prompt: async (q) => `typed for ${q}`,
    });
    expect(got.map((s) => [s.id, s.password])).toEqual([
      ['prod', 'client:--vault-id:prod'],
      ['dev', 'typed for Vault password (dev): '],
      ['default', 'from-file'],
      ['default', 'from-script'],
      ['default', 'typed for Vault password: '],
    ]);
    expect(errorOf(() => passwordFromFile(join(d, 'fails.sh')))).toMatch(/fails\.sh: the script exited with status 4: nope/);
    expect(errorOf(() => passwordFromFile(join(d, 'empty.txt')))).toMatch(/empty\.txt: the file is empty/);
    expect(errorOf(() => passwordFromFile(join(d, 'missing.txt')))).toMatch(/missing\.txt: no such file/);
  });
});

describe('vault through the build and the CLI', { timeout: 60_000 }, () => {
  const SRC = resolve(__dirname, '../../../src/index.ts');
  const ROLE = `import { defineRole, z, file } from '${SRC}';
export default defineRole({
  name: 'derive',
  vars: z.object({ vault_db_password: z.string().optional(), vault_list: z.array(z.unknown()).optional() }),
  // The derived secrets in the path, where the test can read them.
  tasks: (_v, ctx) => [file({ path: '/etc/' + ctx.derivedSecret('db') + '/' + ctx.derivedSecret('macaroon'), content: 'x' })],
});
`;
  const derived = async (hosts: string, groupVars?: string) => {
    const cwd = writeTree(tempDir(), { 'roles/derive/role.ts': ROLE, 'site.yml': '- hosts: all\n  roles: [derive]\n', 'inventory/hosts.yml': hosts, ...(groupVars ? { 'inventory/group_vars/all.yml': groupVars } : {}) });
    const secrets = new SecretRegistry();
    const works = await buildWork(loadPlaybook('site.yml', cwd), loadInventory('inventory', cwd), { extraVars: parseExtraVars([]), secrets });
    const content = works[0]!.plays[0]!.items[0]!.resource.id;
    return { content, secrets };
  };

  it('a vaulted mxplay_master_secret (inline or a whole file) derives the same secrets as the plain one', async () => {
    setVaultSecrets([PW]);
    const plain = await derived(`all:\n  vars:\n    mxplay_master_secret: ${MASTER}\n  hosts:\n    hs1:\n`);
    const inline = await derived(`all:\n  vars:\n${fixture('inline-master.yml').replace(/^/gm, '    ')}\n  hosts:\n    hs1:\n`);
    const whole = await derived('all:\n  hosts:\n    hs1:\n', fixture('whole-vars.yml'));
    expect(plain.content).toMatch(/^\/etc\/[\w-]{40}\/[\w-]{40}$/);
    expect(inline.content).toBe(plain.content);
    expect(whole.content).toBe(plain.content);
    // The master and what is derived from it are masked.
    expect(inline.secrets.mask(`${MASTER} ${inline.content}`)).toBe('******** /etc/********/********');
  });

  it('a wrong vault password: the CLI fails with a clear message before any host is reached', async () => {
    const cwd = writeTree(tempDir(), { 'site.yml': '- hosts: all\n  roles: []\n', 'wrong.txt': 'not-the-password\n' });
    writeTree(cwd, { 'inventory/prod/hosts.yml': 'all:\n  hosts:\n    hs1: { ansible_host: 192.0.2.1 }\n', 'inventory/prod/group_vars/all.yml': fixture('whole-vars.yml') });
    // Absolute paths, not process.chdir: the working directory is shared by every test of a worker.
    const at = (f: string) => join(cwd, f);
    await expect(main(['run', at('site.yml'), '-i', at('inventory/prod'), '--check', '--vault-password-file', at('wrong.txt')])).rejects.toThrow(
      /Ansible Vault: decryption of this file failed: wrong vault password \(tried \S*wrong\.txt\)/,
    );
    await expect(main(['run', at('site.yml'), '-i', at('inventory/prod'), '--check'])).rejects.toThrow(/this file is encrypted: give its password/);
  });
});
