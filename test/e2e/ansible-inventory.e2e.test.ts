// The proof that mxplay reads an inventory as Ansible does: for each inventory below (INI and YAML,
// children, ranges, ports, group_vars/host_vars files and folders, several -i, YAML 1.1 scalars,
// INI's Python literals), `mxplay inventory --list` prints what Debian's ansible-core
// (`ansible-inventory --list`) prints: the same hosts, the same groups with the same children and
// hosts, the same variables with the same values and types. ansible-core is installed here if it
// is missing (root, as the e2e suite runs); no lab host is needed. Vault values too: an inline
// `!vault` value and a whole encrypted group_vars file, encrypted here with Debian's ansible-vault
// (see the last test for what is compared there and why).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { mxplay } from './helpers/mxplay.ts';

const run = promisify(execFile);

function ensureAnsible(): void {
  if (existsSync('/usr/bin/ansible-inventory')) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Debian 12's ansible-core; -t bookworm where other suites are configured too (as the lab's tools).
  const policy = execFileSync('apt-cache', ['policy', 'ansible-core'], { encoding: 'utf8', env });
  const target = /bookworm/.test(policy) ? ['-t', 'bookworm'] : [];
  const install = () => execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...target, 'ansible-core'], { env, stdio: 'pipe' });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update', '-q'], { env, stdio: 'pipe' });
    install();
  }
}

type Tree = Record<string, string>;

interface Case {
  name: string;
  files: Tree;
  /** The -i arguments, relative to the case's folder. */
  inventories: string[];
}

const CASES: Case[] = [
  {
    name: 'INI: sections, children declared later, ranges, ports, Python-literal values, comments and quoting',
    files: {
      'hosts.ini': `# comment
loose1 role=edge
[web]
web[01:03].example.org:2222 tier=1 on=True off=False none=None list="[1, 'a']" dict="{'k': [1, 2]}" flt=1.5 hex=0x1F under=1_000
web04.example.org  quoted="'0600'" octal=0600 word=yes text="two words" hash=abc#comment-after
loose1
[db]
db[a:c] ansible_port=5432
pg[1:9:4]
[db:vars]
ansible_become=yes
gv_int=42
gv_text = some text # with a comment kept
gv_lit = 'quoted' # comment dropped
gv_bool=True
gv_list=[1, 2]
[matrix:children]
web
db
[matrix]
[matrix:vars]
level=matrix
[all:vars]
level=all
ansible_user=deploy
`,
    },
    inventories: ['hosts.ini'],
  },
  {
    name: 'YAML: nested children, a host in several groups, ranges and ports as keys, YAML 1.1 scalars, merge keys',
    files: {
      'hosts.yml': `all:
  vars:
    defaults: &defaults
      port: 8008
      enabled: yes
  children:
    matrix:
      vars:
        b_yes: yes
        b_No: No
        b_on: ON
        b_off: off
        s_y: y
        s_n: n
        s_mixed: tRUE
        mode: 0600
        hex: 0x1F
        bin: 0b101
        under: 1_000
        plus: +12
        s_0o: 0o17
        s_09: 09
        s_exp: 1e3
        f_exp: 1.0e+3
        f_half: .5
        n_tilde: ~
        n_null: Null
        n_empty:
        date: 2024-01-02
        merged:
          <<: *defaults
          extra: 1
      children:
        synapse:
          hosts:
            hs[1:2].lab.test:
              ansible_host: 10.0.0.1
            hs3.lab.test:2222:
        postgres:
          hosts:
            hs1.lab.test:
              pg: true
    ungrouped:
      hosts: lonely
  hosts:
    top: { ansible_connection: local }
`,
    },
    inventories: ['hosts.yml'],
  },
  {
    name: 'a folder: a YAML and an INI file, group_vars as files, folders and JSON, host_vars, precedence by depth and name',
    files: {
      'inv/hosts.yml': 'all:\n  children:\n    web:\n      hosts:\n        w1:\n        w2:\n    Web:\n      hosts:\n        w2:\n',
      'inv/hosts': '[db]\nd1 x=1\n[dbreplica]\nd2\n[db:children]\ndbreplica\n[db:vars]\nlevel=db-inline\n',
      'inv/README.md': 'not an inventory\n',
      'inv/group_vars/all.yml': 'level: all\nfrom_all: yes\n',
      'inv/group_vars/web/10-a.yml': 'level: web-10\nweb_a: 1\n',
      'inv/group_vars/web/20-b.yaml': 'level: web-20\n',
      'inv/group_vars/web/notes.txt': 'level: not read\n',
      'inv/group_vars/Web.json': '{"level": "Web-json", "json": true}\n',
      'inv/group_vars/db': 'level: db-file\nmode: 0755\n',
      'inv/group_vars/dbreplica.yml': 'level: dbreplica\n',
      'inv/host_vars/w1.yml': 'level: host-w1\n',
      'inv/host_vars/d2/main.yml': 'level: host-d2\n',
    },
    inventories: ['inv'],
  },
  {
    name: 'several -i: merged in order, the later source winning, group_vars of each source after the inline vars of all',
    files: {
      'a/hosts': 'h1 x=a\nh2:2222\n[web]\nh1\nh2:2222\n[web:vars]\nv=a-web\n[db:children]\nweb\n[db]\n[db:vars]\nv=a-db\nansible_group_priority=5\n[all:vars]\nv=a-all\n',
      'a/group_vars/web.yml': 'gv: a-web\nv: gv-a-web\n',
      'a/group_vars/db.yml': 'gv: a-db\ngvdb: a\n',
      'b/hosts.yml': 'all:\n  children:\n    web:\n      hosts:\n        h1: { x: b, y: on }\n        h3:\n      vars: { v: b-web }\n    other:\n      children:\n        web:\n      vars:\n        v: b-other\n        ansible_group_priority: 0\n',
      'b/group_vars/db.yml': 'gv: b-db\n',
      'b/host_vars/h1.yml': 'z: 0600\n',
    },
    inventories: ['a', 'b'],
  },
  {
    name: 'a single INI file with group_vars next to it, and a host list',
    files: {
      'prod/hosts.ini': '[matrix]\nhs1 ansible_host=192.0.2.10\n',
      'prod/group_vars/matrix.yml': 'synapse_server_name: example.org\n',
    },
    inventories: ['prod/hosts.ini', 'extra1,extra2:2201'],
  },
];

/** Lists in the --list output in name order: the order of hosts and children is not what is compared. */
function normalized(json: string): Record<string, unknown> {
  const data = JSON.parse(json.replace(/\bInfinity\b/g, 'null')) as Record<string, Record<string, unknown>>;
  for (const [k, v] of Object.entries(data)) {
    if (k === '_meta') continue;
    for (const f of ['hosts', 'children']) if (Array.isArray(v[f])) (v[f] as string[]).sort();
  }
  return data;
}

// The vault case. Its secrets: two inline values and every string of the encrypted group_vars file
// (numbers and booleans in it are not secrets, and no string here is shorter than mxplay's shortest
// maskable secret, 6 characters).
const INLINE = { all_inline: 'inline: value # with "quotes" and ü', host_token: 'multi\nline token ü' };
const VAULTED_FILE = 'vault_db_password: "db: pass # not a comment"\nvault_list: [alpha-secret, 42, true, {nested: nested-secret}]\nvault_port: 5432\nvault_flag: yes\nplain_looking: clear-text-but-vaulted\n';
const VAULTED_STRINGS = ['db: pass # not a comment', 'alpha-secret', 'nested-secret', 'clear-text-but-vaulted'];
const MASK = '********';

/** Every value under v, with its Jinja path from the variable `name` (`name[3]['k']`). */
function leaves(name: string, v: unknown): [string, unknown][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(`${name}[${i}]`, x));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(`${name}[${JSON.stringify(k)}]`, x));
  return [[name, v]];
}

/** A copy of v with each value that f maps to something else replaced, at any depth. */
function mapDeep(v: unknown, f: (x: unknown) => unknown): unknown {
  const m = f(v);
  if (m !== v) return m;
  if (Array.isArray(v)) return v.map((x) => mapDeep(x, f));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapDeep(x, f)]));
  return v;
}

describe('mxplay inventory --list reads inventories as ansible-inventory --list does', () => {
  let root: string;

  beforeAll(() => {
    ensureAnsible();
    root = mkdtempSync(join(tmpdir(), 'mxplay-ansible-inventory-'));
  }, 600_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(CASES)('$name', async (c) => {
    const dir = join(root, c.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60));
    for (const [rel, text] of Object.entries(c.files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    const args = c.inventories.flatMap((i) => ['-i', i]);
    const ansible = await run('ansible-inventory', [...args, '--list'], { cwd: dir, env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_NOCOLOR: '1' } });
    expect(ansible.stderr).not.toMatch(/WARNING|ERROR/);
    const mine = await mxplay(['inventory', ...args, '--list'], { cwd: dir });
    expect(mine.stderr).toBe('');
    expect(mine.code).toBe(0);
    expect(normalized(mine.stdout)).toEqual(normalized(ansible.stdout));
  });

  it('the cases cover what they claim: typed INI values, YAML 1.1 booleans and octals, ranges, ports, ungrouped', async () => {
    const dir = join(root, CASES[0]!.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60));
    const ini = normalized((await mxplay(['inventory', '-i', 'hosts.ini', '--list'], { cwd: dir })).stdout) as {
      _meta: { hostvars: Record<string, Record<string, unknown>> };
      ungrouped?: { hosts: string[] };
      db: { hosts: string[] };
    };
    const w1 = ini._meta.hostvars['web01.example.org']!;
    expect(w1).toMatchObject({ ansible_port: 2222, tier: 1, on: true, none: null, list: [1, 'a'], hex: 31, under: 1000, level: 'matrix' });
    expect(ini._meta.hostvars['web04.example.org']).toMatchObject({ quoted: '0600', octal: '0600', word: 'yes', text: 'two words', hash: 'abc' });
    expect(ini._meta.hostvars.dba).toMatchObject({ ansible_become: 'yes', ansible_port: 5432, gv_int: 42, gv_text: 'some text # with a comment kept', gv_lit: 'quoted' });
    expect(ini.db.hosts).toEqual(['dba', 'dbb', 'dbc', 'pg1', 'pg5', 'pg9']);
    expect(ini.ungrouped).toBeUndefined(); // loose1 is in web too
    const ydir = join(root, CASES[1]!.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60));
    const yaml = normalized((await mxplay(['inventory', '-i', 'hosts.yml', '--list'], { cwd: ydir })).stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } };
    expect(yaml._meta.hostvars['hs1.lab.test']).toMatchObject({ b_yes: true, b_No: false, b_on: true, b_off: false, s_y: 'y', mode: 384, s_0o: '0o17', s_exp: '1e3', merged: { port: 8008, enabled: true, extra: 1 } });
    expect(yaml._meta.hostvars['hs3.lab.test']).toMatchObject({ ansible_port: 2222 });
  });

  it('vault: an inline !vault value and a whole encrypted group_vars file read as ansible-inventory --list --vault-password-file reads them', async () => {
    const dir = join(root, 'vault');
    const pass = join(dir, 'vault-pass');
    mkdirSync(join(dir, 'inv', 'group_vars'), { recursive: true });
    writeFileSync(pass, `vault-${randomBytes(9).toString('hex')}\n`, { mode: 0o600 });
    const vault = (args: string[], input?: string) =>
      execFileSync('ansible-vault', [...args, '--vault-password-file', pass], { cwd: dir, encoding: 'utf8', ...(input !== undefined ? { input } : {}), env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
    // `ansible-vault encrypt_string`'s block, re-indented under its key.
    const inline = (name: keyof typeof INLINE, indent: string) => {
      const [, ...body] = vault(['encrypt_string', '--stdin-name', name], INLINE[name]).trimEnd().split('\n');
      return `${indent}${name}: !vault |\n${body.map((l) => `${indent}  ${l.trim()}`).join('\n')}\n`;
    };
    writeFileSync(join(dir, 'inv', 'hosts.yml'), `all:\n  vars:\n${inline('all_inline', '    ')}    level: all\n  children:\n    matrix:\n      hosts:\n        hs1:\n${inline('host_token', '          ')}        hs2: { ansible_host: 10.0.0.2 }\n`);
    writeFileSync(join(dir, 'inv', 'group_vars', 'matrix.yml'), VAULTED_FILE);
    vault(['encrypt', 'inv/group_vars/matrix.yml']);
    expect(readFileSync(join(dir, 'inv', 'group_vars', 'matrix.yml'), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.1;AES256\n[0-9a-f\n]+$/);

    const args = ['-i', 'inv', '--list', '--vault-password-file', pass];
    const ansible = await run('ansible-inventory', args, { cwd: dir, env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_NOCOLOR: '1' } });
    expect(ansible.stderr).not.toMatch(/WARNING|ERROR/);
    const mine = await mxplay(['inventory', ...args], { cwd: dir });
    expect(mine.stderr).toBe('');
    expect(mine.code).toBe(0);

    // What is comparable. ansible-inventory prints an inline !vault value still encrypted, as
    // {"__ansible_vault": "<vault text>"}, and the values of a whole encrypted file decrypted, in
    // clear. mxplay prints no secret: each decrypted value as ********. So Ansible's output is first
    // decrypted by Ansible itself (each vault text through `ansible-vault decrypt`), then each secret
    // value in it is replaced by the mask, and the result must be mxplay's output exactly: the same
    // hosts, groups, variables and non-secret values (the numbers and booleans of the encrypted
    // file included), a mask exactly where Ansible has a vaulted string.
    const plain = new Map<string, string>();
    const decrypted = mapDeep(normalized(ansible.stdout), (x) => {
      if (!x || typeof x !== 'object' || !('__ansible_vault' in x)) return x;
      const text = (x as { __ansible_vault: string }).__ansible_vault;
      if (!plain.has(text)) plain.set(text, vault(['decrypt', '--output', '-'], text));
      return plain.get(text);
    }) as { _meta: { hostvars: Record<string, Record<string, unknown>> } };
    expect(plain.size).toBe(2); // the two inline values came encrypted
    const hs1 = decrypted._meta.hostvars.hs1!;
    expect(hs1).toMatchObject({ ...INLINE, vault_db_password: VAULTED_STRINGS[0], vault_list: ['alpha-secret', 42, true, { nested: 'nested-secret' }], vault_port: 5432, vault_flag: true, level: 'all' });
    const secrets = [...Object.values(INLINE), ...VAULTED_STRINGS];
    expect(normalized(mine.stdout)).toEqual(mapDeep(decrypted, (x) => (typeof x === 'string' && secrets.includes(x) ? MASK : x)));
    for (const s of secrets) expect(mine.stdout).not.toContain(s);

    // And mxplay decrypts each value to what Ansible decrypts it to: with Ansible's value of each
    // vaulted leaf in a clear variable (a second -i source, mxplay's only), a Jinja comparison per
    // leaf is evaluated by mxplay, and `--host` shows its boolean result (never a secret).
    const vaulted = ['all_inline', 'host_token', 'vault_db_password', 'vault_list', 'vault_port', 'vault_flag', 'plain_looking'];
    const pairs = vaulted.flatMap((k) => leaves(k, hs1[k]));
    const checks: Record<string, unknown> = {};
    pairs.forEach(([path, value], i) => {
      checks[`clear_${i}`] = value;
      checks[`check_${i}`] = `{{ ${path} == clear_${i} }}`;
    });
    checks.check_control = "{{ all_inline == clear_0 ~ '.' }}"; // a comparison that can be false is false
    writeFileSync(join(dir, 'checks.yml'), stringify({ all: { hosts: { hs1: checks } } }));
    const host = await mxplay(['inventory', '-i', 'inv', '-i', 'checks.yml', '--host', 'hs1', '--json', '--vault-password-file', pass], { cwd: dir });
    expect(host.code, host.stderr).toBe(0);
    const got = (JSON.parse(host.stdout) as Record<string, { vars: Record<string, unknown> }>).hs1!.vars;
    expect(pairs.length).toBe(10);
    expect(Object.fromEntries(pairs.map(([path], i) => [path, got[`check_${i}`]]))).toEqual(Object.fromEntries(pairs.map(([path]) => [path, true])));
    expect(got.check_control).toBe(false);
    for (const s of secrets) expect(host.stdout).not.toContain(s);
  });
});
