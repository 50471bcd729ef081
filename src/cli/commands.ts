import { UserError, UserErrors } from '../errors.ts';
import { SecretRegistry } from '../secrets/registry.ts';
import type { HostKeyChecking } from '../transport/connection.ts';
import { cancelAhead } from '../transport/head-start.ts';
import type { CommandName, Opts } from './program.ts';

/** What the commands share, read from commander's options: each checked where it is used. */
const str = (o: Opts, k: string) => o[k] as string | undefined;
const strs = (o: Opts, k: string) => (o[k] as string[] | undefined) ?? [];
const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function inventoryOf(o: Opts): string | string[] {
  const i = strs(o, 'inventory');
  if (!i.length) throw new UserError('-i INVENTORY is required (e.g. -i lab or -i inventory/prod/)');
  // Several -i are merged in order (the later wins for the same variable); one stays a string (the saved plan's form).
  return i.length === 1 ? i[0]! : i;
}

function forksOf(o: Opts): number {
  const n = Number(o.forks);
  if (!/^\d+$/.test(String(o.forks)) || n < 1) throw new UserError(`--forks must be a positive whole number, got '${String(o.forks)}'`);
  return n;
}

function accessOf(o: Opts) {
  const a = {
    ...(o.user ? { user: str(o, 'user')! } : {}),
    ...(o.privateKey ? { privateKey: str(o, 'privateKey')! } : {}),
    ...(o.jump ? { jump: str(o, 'jump')! } : {}),
    ...(o.askPass ? { askPass: true } : {}),
    ...(o.askBecomePass ? { askBecomePass: true } : {}),
  };
  return Object.keys(a).length ? { access: a } : {};
}

const hostKeyCheckingOf = (o: Opts) => (o.hostKeyChecking ? { hostKeyChecking: o.hostKeyChecking as HostKeyChecking } : {});

function runInputs(playbook: string, o: Opts, secrets: SecretRegistry) {
  return {
    playbook,
    inventory: inventoryOf(o),
    ...(o.limit ? { limit: str(o, 'limit')! } : {}),
    ...(o.tags ? { tags: list(str(o, 'tags'))! } : {}),
    ...(o.skipTags ? { skipTags: list(str(o, 'skipTags'))! } : {}),
    extraVars: strs(o, 'extraVars'),
    ...hostKeyCheckingOf(o),
    ...accessOf(o),
    secrets,
  };
}

/** Vault passwords before any file is read (asked once, up front, as Ansible does); they are secrets too. */
async function unlockVault(o: Opts, secrets: SecretRegistry): Promise<void> {
  const { setVaultSecrets, vaultSecretsFromOptions } = await import('../config/vault.ts');
  const vault = await vaultSecretsFromOptions({
    passwordFiles: [...strs(o, 'vaultPasswordFile'), ...strs(o, 'vaultPassFile')],
    vaultIds: strs(o, 'vaultId'),
    askVaultPass: !!o.askVaultPass,
  });
  for (const v of vault) secrets.add(v.password);
  setVaultSecrets(vault);
}

/** Run one parsed command and report its input or internal error, every secret masked; returns the exit code. */
export async function runReported(parsed: { command: CommandName; args: string[]; opts: Opts }): Promise<number> {
  const secrets = new SecretRegistry();
  const mask = (t: string) => secrets.mask(t);
  try {
    return await runParsed(parsed, secrets);
  } catch (e) {
    if (e instanceof UserErrors) {
      process.stderr.write(mask(`error: ${e.errors.length} problem${e.errors.length === 1 ? '' : 's'} in the input; nothing was changed on any host:\n${e.errors.map((x) => `  - ${x}`).join('\n')}\n`));
    } else if (e instanceof UserError) {
      process.stderr.write(mask(`error: ${String(e)}\n`));
    } else {
      const { sourceMapped } = await import('../stack-trace.ts');
      process.stderr.write(mask(`internal error: ${(e as Error).stack ? sourceMapped((e as Error).stack!) : e}\n`));
    }
    return 1;
  }
}

/** Run one parsed command; returns its exit code, throws input errors. */
export async function runParsed(parsed: { command: CommandName; args: string[]; opts: Opts }, secrets = new SecretRegistry()): Promise<number> {
  if (parsed.opts.color === false) (await import('../ui/color.ts')).setColour(false);
  if (!('verbose' in parsed.opts)) return runCommandToEnd(parsed, secrets);
  // -v and --log-file: set up before anything is read (an unwritable log file fails first), closed at the end.
  const { closeLog, configureLog } = await import('../log.ts');
  configureLog({ verbosity: parsed.opts.verbose as number, file: str(parsed.opts, 'logFile') ?? process.env.MXPLAY_LOG, secrets });
  try {
    return await runCommandToEnd(parsed, secrets);
  } finally {
    closeLog();
  }
}

/** The command; then any connection begun ahead that it never took is given up (apply refusing a stale plan, ...). */
async function runCommandToEnd(parsed: { command: CommandName; args: string[]; opts: Opts }, secrets: SecretRegistry): Promise<number> {
  try {
    return await runCommand(parsed, secrets);
  } finally {
    cancelAhead();
  }
}

async function runCommand(parsed: { command: CommandName; args: string[]; opts: Opts }, secrets: SecretRegistry): Promise<number> {
  const { command: cmd, args, opts: o } = parsed;
  if (cmd === 'run' || cmd === 'plan' || cmd === 'apply' || cmd === 'verify' || cmd === 'backup' || cmd === 'restore' || cmd === 'import' || cmd === 'inventory') await unlockVault(o, secrets);
  switch (cmd) {
    case 'run': {
      const inputs = runInputs(args[0]!, o, secrets);
      if (o.listHosts || o.listTasks || o.syntaxCheck) {
        const { listCommand } = await import('./list.ts');
        return listCommand(inputs, o.syntaxCheck ? 'syntax' : o.listTasks ? 'tasks' : 'hosts');
      }
      const { runCommand } = await import('./run.ts');
      return runCommand({
        ...inputs,
        check: !!o.check,
        diff: !!o.diff,
        yes: !!o.yes,
        step: !!o.step,
        json: !!o.json,
        detailedExitcode: !!o.detailedExitcode,
        forks: forksOf(o),
        verify: !!o.verify,
      });
    }
    case 'backup': {
      const { backupCommand } = await import('./backup.ts');
      return backupCommand({ ...runInputs(args[0]!, o, secrets), forks: forksOf(o) });
    }
    case 'restore': {
      const { restoreCommand } = await import('./restore.ts');
      return restoreCommand({ ...runInputs(args[0]!, o, secrets), host: str(o, 'host')!, ...(o.archive ? { archive: str(o, 'archive')! } : {}), yes: !!o.yes });
    }
    case 'verify': {
      const { verifyCommand } = await import('./verify.ts');
      return verifyCommand({ ...runInputs(args[0]!, o, secrets), json: !!o.json });
    }
    case 'plan': {
      const { planCommand } = await import('./plan.ts');
      return planCommand({
        ...runInputs(args[0]!, o, secrets),
        ...(o.output ? { output: str(o, 'output')! } : {}),
        ...(o.format ? { format: o.format as 'json' | 'markdown' | 'text' } : {}),
        forks: forksOf(o),
        detailedExitcode: !!o.detailedExitcode,
      });
    }
    case 'show': {
      const { showCommand } = await import('./plan.ts');
      return showCommand({ plan: args[0]!, format: o.format as 'json' | 'markdown' | 'text' });
    }
    case 'apply': {
      const { applyCommand } = await import('./apply.ts');
      return applyCommand({
        plan: args[0]!,
        yes: !!o.yes,
        json: !!o.json,
        diff: !!o.diff,
        extraVars: strs(o, 'extraVars'),
        forks: forksOf(o),
        ...hostKeyCheckingOf(o),
        ...accessOf(o),
        secrets,
      });
    }
    case 'import': {
      const { importCommand } = await import('./import.ts');
      return importCommand({
        inventory: inventoryOf(o),
        host: str(o, 'host')!,
        ...(o.roles ? { roles: list(str(o, 'roles'))! } : {}),
        force: !!o.force,
        ...(o.reportJson ? { reportJson: str(o, 'reportJson')! } : {}),
        ...hostKeyCheckingOf(o),
        ...accessOf(o),
        secrets,
      });
    }
    case 'inventory': {
      const { inventoryCommand } = await import('./inventory.ts');
      return inventoryCommand({ inventory: inventoryOf(o), ...(o.host ? { host: str(o, 'host')! } : {}), json: !!o.json, list: !!o.list, secrets });
    }
    case 'roles': {
      const { rolesCommand } = await import('./roles.ts');
      return rolesCommand({ ...(args[0] ? { name: args[0] } : {}), json: !!o.json });
    }
    case 'completion': {
      const { completionScript } = await import('./completion.ts');
      process.stdout.write(completionScript(args[0] as 'bash' | 'zsh'));
      return 0;
    }
    case 'complete': {
      const { completions } = await import('./completion.ts');
      const words = await completions(args);
      if (words.length) process.stdout.write(words.join('\n') + '\n');
      return 0;
    }
  }
}
