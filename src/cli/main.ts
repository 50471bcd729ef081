import { parseArgs } from 'node:util';
import { UserError, UserErrors } from '../errors.ts';
import { SecretRegistry } from '../secrets/registry.ts';
import type { HostKeyChecking } from '../transport/connection.ts';

const HELP = `mxplay — declarative playbooks over SSH, with roles for a Matrix homeserver stack

Usage:
  mxplay run PLAYBOOK -i INVENTORY [options]   plan, show diffs, ask, apply
  mxplay plan PLAYBOOK -i INVENTORY [-o FILE]  the plan of run --check, saved for review and apply
  mxplay show PLAN.json [--format F]           a saved plan as text, markdown or json
  mxplay apply PLAN.json [--yes]               apply exactly that plan; refuses if anything changed since
  mxplay inventory -i INVENTORY [--host H]     resolved hosts and merged vars (secrets masked);
                                               --list: as ansible-inventory --list prints it
  mxplay roles [NAME]                          roles and their variables

Run options:
  -i, --inventory NAME|PATH   inventory/NAME.yml, inventory/NAME/, or a path (YAML, INI, a
                              folder, or host1,host2); repeatable: merged in order
  --check                     dry run: plan and diffs, change nothing
  --detailed-exitcode         with --check: exit 2 when changes are pending
  --diff                      also print each diff while applying
  -y, --yes                   apply without asking (needed without a terminal)
  -l, --limit PATTERN         only hosts matching PATTERN (group, host, glob, a:b, !x, &y)
  -t, --tags LIST             only resources with one of these tags (role names are tags)
  --skip-tags LIST            leave out resources with these tags
  -e, --extra-vars K=V|@FILE  highest-precedence variables (repeatable)
  -f, --forks N               hosts worked on at once (default 10)
  --host-key-checking MODE    strict (default), accept-new, off; a host's stricter
                              mxplay_host_key_checking in the inventory wins
  --json                      machine-readable plan and results on stdout

Access options (run, plan, apply; the inventory's ansible_* variables win over them):
  -u, --user USER             login user (ansible_user)
  --private-key FILE          private key (ansible_ssh_private_key_file)
  --jump [USER@]HOST[:PORT]   jump host(s), comma-separated (ProxyJump, as ssh -J: over
                              ssh_config's; a host's ansible_ssh_common_args wins)
  -k, --ask-pass              ask for the SSH password (ansible_password)
  -K, --ask-become-pass       ask for the sudo password (ansible_become_password); without
                              a terminal, passwords are read from stdin, one line each

Vault options (run, plan, apply, inventory): Ansible Vault files and !vault values
  --vault-password-file FILE  the vault password: FILE's content, or an executable FILE's
                              output (repeatable; also ANSIBLE_VAULT_PASSWORD_FILE)
  --vault-id [ID@]SOURCE      a password for vault id ID from a file, a script or 'prompt'
  -J, --ask-vault-pass        ask for the vault password on the terminal

Plan options (and the run options -i -l -t --skip-tags -e -f --host-key-checking --detailed-exitcode):
  -o, --output FILE           write the plan to FILE (apply reads the json form)
  --format FORMAT             json, markdown or text (also for show); default from FILE's
                              extension (.md, .txt, else json), text on stdout without -o

Apply options: -y/--yes, --diff, --json, -f, --host-key-checking. Secret extra vars belong in a
  -e @FILE given to plan (its values may come from !env, !file or !command): apply reads that
  file again, and a plan never stores a secret. Never put a secret in argv (-e K=V is seen by
  every process and kept in shell history); apply still takes -e K=V only to give again a secret
  K=V a plan was made with.

Exit codes: 0 converged or nothing to do; 1 error or a failed host; 2 changes pending (--check --detailed-exitcode).
`;

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

async function planFormat(f: string) {
  const { FORMATS } = await import('./plan.ts');
  if (!(FORMATS as readonly string[]).includes(f)) throw new UserError(`--format is ${FORMATS.join(', ')}`);
  return f as (typeof FORMATS)[number];
}

/** One command; `secrets` is the run's registry, filled as inputs are read, masking every output. */
export async function main(argv: string[], secrets = new SecretRegistry()): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      inventory: { type: 'string', short: 'i', multiple: true },
      list: { type: 'boolean' },
      check: { type: 'boolean', short: 'C' },
      'detailed-exitcode': { type: 'boolean' },
      diff: { type: 'boolean', short: 'D' },
      yes: { type: 'boolean', short: 'y' },
      limit: { type: 'string', short: 'l' },
      tags: { type: 'string', short: 't' },
      'skip-tags': { type: 'string' },
      'extra-vars': { type: 'string', short: 'e', multiple: true },
      forks: { type: 'string', short: 'f' },
      'host-key-checking': { type: 'string' },
      host: { type: 'string' },
      json: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      'vault-password-file': { type: 'string', multiple: true },
      'vault-pass-file': { type: 'string', multiple: true },
      'vault-id': { type: 'string', multiple: true },
      'ask-vault-pass': { type: 'boolean', short: 'J' },
      user: { type: 'string', short: 'u' },
      'private-key': { type: 'string' },
      jump: { type: 'string' },
      'ask-pass': { type: 'boolean', short: 'k' },
      'ask-become-pass': { type: 'boolean', short: 'K' },
    },
  });
  const [cmd, arg] = positionals;
  if (o.help || !cmd) {
    process.stdout.write(HELP);
    return cmd || o.help ? 0 : 1;
  }
  const needInventory = () => {
    if (!o.inventory?.length) throw new UserError('-i INVENTORY is required (e.g. -i lab or -i inventory/prod/)');
    // Several -i are merged in order (the later wins for the same variable); one stays a string (the saved plan's form).
    return o.inventory.length === 1 ? o.inventory[0]! : o.inventory;
  };
  const forks = () => {
    const n = Number(o.forks ?? 10);
    if (!Number.isInteger(n) || n < 1) throw new UserError('--forks must be a positive whole number');
    return n;
  };
  const hostKeyChecking = () => {
    const hkc = o['host-key-checking'];
    if (hkc && !['strict', 'accept-new', 'off'].includes(hkc)) throw new UserError('--host-key-checking is strict, accept-new or off');
    return hkc as HostKeyChecking | undefined;
  };
  const access = () => {
    const a = {
      ...(o.user ? { user: o.user } : {}),
      ...(o['private-key'] ? { privateKey: o['private-key'] } : {}),
      ...(o.jump ? { jump: o.jump } : {}),
      ...(o['ask-pass'] ? { askPass: true } : {}),
      ...(o['ask-become-pass'] ? { askBecomePass: true } : {}),
    };
    return Object.keys(a).length ? { access: a } : {};
  };
  const runInputs = (playbook: string) => {
    const hkc = hostKeyChecking();
    return {
      playbook,
      inventory: needInventory(),
      ...(o.limit ? { limit: o.limit } : {}),
      ...(o.tags ? { tags: list(o.tags)! } : {}),
      ...(o['skip-tags'] ? { skipTags: list(o['skip-tags'])! } : {}),
      extraVars: o['extra-vars'] ?? [],
      ...(hkc ? { hostKeyChecking: hkc } : {}),
      ...access(),
      secrets,
    };
  };
  if (['run', 'plan', 'apply', 'inventory'].includes(cmd)) {
    // Vault passwords before any file is read (asked once, up front, as Ansible does); they are secrets too.
    const { setVaultSecrets, vaultSecretsFromOptions } = await import('../config/vault.ts');
    const vault = await vaultSecretsFromOptions({
      passwordFiles: [...(o['vault-password-file'] ?? []), ...(o['vault-pass-file'] ?? [])],
      vaultIds: o['vault-id'] ?? [],
      askVaultPass: !!o['ask-vault-pass'],
    });
    for (const v of vault) secrets.add(v.password);
    setVaultSecrets(vault);
  }
  switch (cmd) {
    case 'run': {
      if (!arg) throw new UserError('run needs a playbook, e.g. mxplay run site.yml -i prod');
      const { runCommand } = await import('./run.ts');
      return runCommand({
        ...runInputs(arg),
        check: !!o.check,
        diff: !!o.diff,
        yes: !!o.yes,
        json: !!o.json,
        detailedExitcode: !!o['detailed-exitcode'],
        forks: forks(),
      });
    }
    case 'plan': {
      if (!arg) throw new UserError('plan needs a playbook, e.g. mxplay plan site.yml -i prod -o plan.json');
      const { planCommand } = await import('./plan.ts');
      return planCommand({
        ...runInputs(arg),
        ...(o.output ? { output: o.output } : {}),
        ...(o.format ? { format: await planFormat(o.format) } : {}),
        forks: forks(),
        detailedExitcode: !!o['detailed-exitcode'],
      });
    }
    case 'show': {
      if (!arg) throw new UserError('show needs a saved plan, e.g. mxplay show plan.json --format markdown');
      const { showCommand } = await import('./plan.ts');
      return showCommand({ plan: arg, ...(o.format ? { format: await planFormat(o.format) } : {}) });
    }
    case 'apply': {
      if (!arg) throw new UserError('apply needs a saved plan, e.g. mxplay apply plan.json');
      const { applyCommand } = await import('./apply.ts');
      const hkc = hostKeyChecking();
      return applyCommand({
        plan: arg,
        yes: !!o.yes,
        json: !!o.json,
        diff: !!o.diff,
        extraVars: o['extra-vars'] ?? [],
        forks: forks(),
        ...(hkc ? { hostKeyChecking: hkc } : {}),
        ...access(),
        secrets,
      });
    }
    case 'inventory': {
      const { inventoryCommand } = await import('./inventory.ts');
      return inventoryCommand({ inventory: needInventory(), ...(o.host ? { host: o.host } : {}), json: !!o.json, list: !!o.list, secrets });
    }
    case 'roles': {
      const { rolesCommand } = await import('./roles.ts');
      return rolesCommand({ ...(arg ? { name: arg } : {}), json: !!o.json });
    }
    default:
      throw new UserError(`unknown command '${cmd}' (run, plan, show, apply, inventory, roles; see --help)`);
  }
}

export async function cli(argv: string[]): Promise<void> {
  const secrets = new SecretRegistry();
  const mask = (t: string) => secrets.mask(t);
  let code: number;
  try {
    code = await main(argv, secrets);
  } catch (e) {
    if (e instanceof UserErrors) {
      process.stderr.write(mask(`error: ${e.errors.length} problem${e.errors.length === 1 ? '' : 's'} in the input; nothing was changed on any host:\n${e.errors.map((x) => `  - ${x}`).join('\n')}\n`));
    } else if (e instanceof UserError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(mask(`error: ${String(e instanceof UserError ? e : (e as Error).message)}\n`));
    } else {
      process.stderr.write(mask(`internal error: ${(e as Error).stack ?? e}\n`));
    }
    code = 1;
  }
  process.exitCode = code;
}
