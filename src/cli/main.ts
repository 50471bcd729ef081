import { parseArgs } from 'node:util';
import { UserError, UserErrors } from '../errors.ts';
import { mask } from '../secrets/secrets.ts';
import type { HostKeyChecking } from '../transport/connection.ts';

const HELP = `mxplay — declarative playbooks over SSH, with roles for a Matrix homeserver stack

Usage:
  mxplay run PLAYBOOK -i INVENTORY [options]   plan, show diffs, ask, apply
  mxplay inventory -i INVENTORY [--host H]     resolved hosts and merged vars (secrets masked)
  mxplay roles [NAME]                          roles and their variables

Run options:
  -i, --inventory NAME|PATH   inventory/NAME.yml, inventory/NAME/, or a path
  --check                     dry run: plan and diffs, change nothing
  --detailed-exitcode         with --check: exit 2 when changes are pending
  --diff                      also print each diff while applying
  -y, --yes                   apply without asking (needed without a terminal)
  -l, --limit PATTERN         only hosts matching PATTERN (group, host, glob, a:b, !x, &y)
  -t, --tags LIST             only resources with one of these tags (role names are tags)
  --skip-tags LIST            leave out resources with these tags
  -e, --extra-vars K=V|@FILE  highest-precedence variables (repeatable)
  -f, --forks N               hosts worked on at once (default 10)
  --host-key-checking MODE    strict (default), accept-new, off
  --json                      machine-readable plan and results on stdout

Exit codes: 0 converged or nothing to do; 1 error or a failed host; 2 changes pending (--check --detailed-exitcode).
`;

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      inventory: { type: 'string', short: 'i' },
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
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, arg] = positionals;
  if (o.help || !cmd) {
    process.stdout.write(HELP);
    return cmd || o.help ? 0 : 1;
  }
  const needInventory = () => {
    if (!o.inventory) throw new UserError('-i INVENTORY is required (e.g. -i lab or -i inventory/prod/)');
    return o.inventory;
  };
  switch (cmd) {
    case 'run': {
      if (!arg) throw new UserError('run needs a playbook, e.g. mxplay run site.yml -i prod');
      const forks = Number(o.forks ?? 10);
      if (!Number.isInteger(forks) || forks < 1) throw new UserError('--forks must be a positive whole number');
      const hkc = o['host-key-checking'];
      if (hkc && !['strict', 'accept-new', 'off'].includes(hkc)) throw new UserError('--host-key-checking is strict, accept-new or off');
      const { runCommand } = await import('./run.ts');
      return runCommand({
        playbook: arg,
        inventory: needInventory(),
        check: !!o.check,
        diff: !!o.diff,
        yes: !!o.yes,
        json: !!o.json,
        detailedExitcode: !!o['detailed-exitcode'],
        ...(o.limit ? { limit: o.limit } : {}),
        ...(o.tags ? { tags: list(o.tags)! } : {}),
        ...(o['skip-tags'] ? { skipTags: list(o['skip-tags'])! } : {}),
        extraVars: o['extra-vars'] ?? [],
        forks,
        ...(hkc ? { hostKeyChecking: hkc as HostKeyChecking } : {}),
      });
    }
    case 'inventory': {
      const { inventoryCommand } = await import('./inventory.ts');
      return inventoryCommand({ inventory: needInventory(), ...(o.host ? { host: o.host } : {}), json: !!o.json });
    }
    case 'roles': {
      const { rolesCommand } = await import('./roles.ts');
      return rolesCommand({ ...(arg ? { name: arg } : {}), json: !!o.json });
    }
    default:
      throw new UserError(`unknown command '${cmd}' (run, inventory, roles; see --help)`);
  }
}

export async function cli(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await main(argv);
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
