import { Argument, Command, Option } from 'commander';
import { MXPLAY_VERSION } from '../paths.ts';

/**
 * The command line: each command with only its own options, its own help, and commander's
 * did-you-mean. Only commander and this file load for `--help`, `--version` and a typo: the work
 * of each command is imported when it runs.
 */

/** What an action hands back: the parsed options of its command, as commander made them. */
export type Opts = Record<string, unknown>;

export type CommandName = 'run' | 'plan' | 'show' | 'apply' | 'verify' | 'backup' | 'restore' | 'import' | 'inventory' | 'roles' | 'completion' | 'complete';

/** Called with the command that was chosen, its positionals and options. */
export type Dispatch = (command: CommandName, args: string[], o: Opts) => Promise<void>;

const repeat = (v: string, prev: string[] = []) => [...prev, v];
const count = (_: string, prev: number) => prev + 1;

const ACCESS = 'Access options (the inventory\'s ansible_* variables win over them):';
const VAULT = 'Vault options (Ansible Vault files and !vault values):';
const OUTPUT = 'Output options:';

function selection(c: Command): Command {
  return c
    .addOption(new Option('-i, --inventory <name|path>', 'inventory/NAME.yml, inventory/NAME/, or a path (YAML, INI, a folder, or host1,host2); repeatable: merged in order').argParser(repeat))
    .option('-l, --limit <pattern>', 'only hosts matching PATTERN (group, host, glob, a:b, !x, &y)')
    .option('-t, --tags <list>', 'only resources with one of these tags (role names are tags)')
    .option('--skip-tags <list>', 'leave out resources with these tags');
}

const extraVars = (c: Command, what = 'highest-precedence variables: K=V, @FILE (YAML/JSON) or a JSON/YAML mapping; repeatable') =>
  c.addOption(new Option('-e, --extra-vars <vars>', what).argParser(repeat));

const forks = (c: Command) =>
  c.addOption(new Option('-f, --forks <n>', 'hosts worked on at once').default(10)).addOption(
    new Option('--host-key-checking <mode>', "SSH host keys; a host's stricter mxplay_host_key_checking wins").choices(['strict', 'accept-new', 'off']),
  );

function access(c: Command): Command {
  return c
    .addOption(new Option('-u, --user <user>', 'login user (ansible_user)').helpGroup(ACCESS))
    .addOption(new Option('--private-key <file>', 'private key (ansible_ssh_private_key_file)').helpGroup(ACCESS))
    .addOption(new Option('--jump <hops>', "jump host(s) [USER@]HOST[:PORT], comma-separated, as ssh -J").helpGroup(ACCESS))
    .addOption(new Option('-k, --ask-pass', 'ask for the SSH password (ansible_password)').helpGroup(ACCESS))
    .addOption(new Option('-K, --ask-become-pass', 'ask for the sudo password (ansible_become_password); without a terminal, read from stdin, one line each').helpGroup(ACCESS));
}

function vault(c: Command): Command {
  return c
    .addOption(new Option('--vault-password-file <file>', "the vault password: FILE's content, or an executable FILE's output; repeatable (also ANSIBLE_VAULT_PASSWORD_FILE)").argParser(repeat).helpGroup(VAULT))
    .addOption(new Option('--vault-pass-file <file>', 'the same as --vault-password-file').argParser(repeat).hideHelp())
    .addOption(new Option('--vault-id <[id@]source>', "a password for vault id ID from a file, a script or 'prompt'; repeatable").argParser(repeat).helpGroup(VAULT))
    .addOption(new Option('-J, --ask-vault-pass', 'ask for the vault password on the terminal').helpGroup(VAULT));
}

function colour(c: Command): Command {
  return c.addOption(new Option('--no-color', 'no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)').helpGroup(OUTPUT));
}

function verbosity(c: Command): Command {
  return colour(c)
    .addOption(new Option('-v, --verbose', '-v timings, round trips, handlers; -vv the scripts sent (secrets masked); -vvv transport details').argParser(count).default(0).helpGroup(OUTPUT))
    .addOption(new Option('--log-file <file>', 'append the -v lines, with timestamps, to FILE (at least -v; also MXPLAY_LOG)').helpGroup(OUTPUT));
}

const EXIT_CODES = '\nExit codes: 0 converged or nothing to do; 1 error or a failed host; 2 changes pending (--check --detailed-exitcode).\n';

/** The whole command line; `dispatch` runs the chosen command. */
export function program(dispatch: Dispatch): Command {
  // commander passes the positionals, then the options, then the command itself.
  const run = (command: CommandName) => (...a: unknown[]) => {
    const cmd = a.at(-1) as Command;
    return dispatch(command, (cmd.processedArgs.flat() as (string | undefined)[]).filter((x): x is string => x !== undefined), cmd.opts());
  };
  const p = new Command('mxplay')
    .description('Declarative playbooks over SSH, with roles for a Matrix homeserver stack on Debian.')
    .version(`mxplay ${MXPLAY_VERSION}`, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: mxplay help COMMAND)')
    .exitOverride()
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureHelp({ helpWidth: 110 });

  const run_ = p.command('run')
    .summary('plan, show diffs, ask, apply')
    .description('Connect to every host, plan the playbook on it, show each change with its diff, ask, then apply.')
    .argument('<playbook>', 'playbook file: PATH, or NAME under playbooks/')
    .option('-C, --check', 'dry run: plan and diffs, change nothing')
    .option('-D, --diff', 'also print each diff while applying')
    .option('--detailed-exitcode', 'with --check: exit 2 when changes are pending')
    .option('-y, --yes', 'apply without asking (needed without a terminal)')
    .addOption(new Option('--step', 'ask host by host which to apply (a host answered no is reported skipped)').conflicts('yes'))
    .option('--json', 'machine-readable plan and results on stdout (format: docs/schema/run.schema.json)')
    .option('--verify', 'then check each host from here as `mxplay verify` does; exit 1 if a check fails')
    .option('--list-hosts', 'list the hosts each play would run on, and stop (no connection)')
    .option('--list-tasks', 'list the resources each host would get, and stop (no connection)')
    .option('--syntax-check', 'check the playbook, inventory and variables, and stop (no connection)');
  verbosity(vault(access(forks(extraVars(selection(run_))))));
  run_.addHelpText('after', EXIT_CODES).action(run('run'));

  const plan = p.command('plan')
    .summary('the plan of run --check, saved for review and apply')
    .description('Plan as `run --check` does and keep the plan: for review (text, markdown) and for `mxplay apply` (json).')
    .argument('<playbook>', 'playbook file: PATH, or NAME under playbooks/')
    .option('-o, --output <file>', 'write the plan to FILE (apply reads the json form)')
    .addOption(new Option('--format <format>', "default from FILE's extension (.md, .txt, else json); text on stdout without -o").choices(['json', 'markdown', 'text']))
    .option('--detailed-exitcode', 'exit 2 when changes are pending');
  verbosity(vault(access(forks(extraVars(selection(plan))))));
  plan
    .addHelpText('after', '\nSecret extra vars belong in a -e @FILE (its values may come from !env, !file or !command): apply reads that file\nagain, and a plan never stores a secret.\n' + EXIT_CODES)
    .action(run('plan'));

  const show = p.command('show')
    .summary('a saved plan as text, markdown or json')
    .description('Render a plan saved by `mxplay plan` for a terminal, a merge request (markdown) or a program (json).')
    .argument('<plan>', 'plan file made by mxplay plan -o FILE.json')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'markdown', 'text']).default('text'));
  colour(show).action(run('show'));

  const apply = p.command('apply')
    .summary('apply exactly a saved plan; refuses if anything changed since')
    .description('Apply a plan saved by `mxplay plan`, after checking that the inputs and every host still match it.')
    .argument('<plan>', 'plan file made by mxplay plan -o FILE.json')
    .option('-y, --yes', 'apply without asking (needed without a terminal)')
    .option('-D, --diff', 'also print each diff while applying')
    .option('--json', 'machine-readable results on stdout');
  verbosity(vault(access(forks(extraVars(apply, 'only to give again a secret K=V the plan was made with (a plan stores no secret); repeatable')))));
  apply
    .addHelpText('after', '\nNever put a secret in argv (-e K=V is seen by every process and kept in shell history): give secrets to plan\nin a -e @FILE, which apply reads again.\n' + EXIT_CODES)
    .action(run('apply'));

  const verify = p.command('verify')
    .summary("check from here that each host's services answer as users meet them")
    .description(
      "Ask every host what its roles serve, from this machine and without SSH: the client API and .well-known through the\n" +
        'proxy, federation through the delegated name, TURN, web apps, an LDAP login when a test user is given. One table\n' +
        'per host; exit 1 when a check fails. mxplay_verify_resolve: inventory reaches names before DNS has them.',
    )
    .argument('<playbook>', 'playbook file: PATH, or NAME under playbooks/')
    .option('--json', 'machine-readable results on stdout (format: docs/schema/verify.schema.json)');
  colour(vault(extraVars(selection(verify)))).action(run('verify'));

  // backup and restore read the hosts, their variables and their access as run does; no plan, no tags.
  const inventoryOption = () => new Option('-i, --inventory <name|path>', 'inventory/NAME.yml, inventory/NAME/, or a path (YAML, INI, a folder, or host1,host2); repeatable: merged in order').argParser(repeat);
  const backup = p.command('backup')
    .summary('a backup now, on the hosts with the backup role')
    .description("Start the backup role's unit (mxplay-backup.service, what its timer starts) on each selected host that has the role, wait\nfor it, and report each archive's name, size and duration.")
    .argument('<playbook>', 'playbook file: PATH, or NAME under playbooks/')
    .addOption(inventoryOption())
    .option('-l, --limit <pattern>', 'only hosts matching PATTERN (group, host, glob, a:b, !x, &y)');
  verbosity(vault(access(forks(extraVars(backup)))));
  backup.addHelpText('after', '\nExit codes: 0 every backup made; 1 error or a failed backup (its unit log follows).\n').action(run('backup'));

  const restore = p.command('restore')
    .summary('restore a backup onto a host: database, media, signing key')
    .description("Restore the newest (or a named) archive of a host's repository onto it: stop Synapse, restore the database into a new\nUTF8 / C database, the media store and the signing key, start Synapse and check that it answers.")
    .argument('<playbook>', 'playbook file: PATH, or NAME under playbooks/')
    .addOption(inventoryOption())
    .requiredOption('--host <host>', 'the inventory host to restore onto (its backup role names the repository)')
    .option('--archive <name>', 'the archive to restore (default: the newest of the host)')
    .option('-y, --yes', 'restore without asking (needed without a terminal)')
    .addOption(new Option('--host-key-checking <mode>', "SSH host keys; a host's stricter mxplay_host_key_checking wins").choices(['strict', 'accept-new', 'off']));
  verbosity(vault(access(extraVars(restore))));
  restore.addHelpText('after', '\nThe host is converged first (mxplay run), from the same inventory: see docs/backup.md, moving a homeserver.\nExit codes: 0 restored and answering; 1 error or a failed restore.\n').action(run('restore'));

  const import_ = p.command('import')
    .summary('adopt a running homeserver: write the host_vars that reproduce it')
    .description(
      "Read a host built by hand (Synapse's configuration as Synapse merges it, PostgreSQL, coturn, the nginx site) and " +
        'write INVENTORY_DIR/host_vars/HOST.yml with the role variables that reproduce it. Secrets become vault values (with a ' +
        'vault password) or !env references, never clear text. The report says what the first run will change, what is kept ' +
        'through an escape hatch (synapse_extra_config, nginx_vhost_extra, coturn_extra_options), and what is yours to decide.',
    )
    .addOption(inventoryOption())
    .requiredOption('--host <host>', 'the inventory host to read (it must be in the inventory, with its connection settings)')
    .option('--roles <list>', 'only these roles (postgres, synapse, coturn, nginx); default: those the host runs')
    .option('--force', 'replace an existing host_vars file of the host')
    .option('--report-json <file>', 'also write the report as JSON to FILE')
    .addOption(new Option('--host-key-checking <mode>', "SSH host keys; a host's stricter mxplay_host_key_checking wins").choices(['strict', 'accept-new', 'off']));
  verbosity(vault(access(import_)));
  import_.addHelpText('after', '\nThen: mxplay run PLAYBOOK -i INVENTORY -l HOST --check shows every change before any is made.\n').action(run('import'));

  vault(
    p.command('inventory')
      .summary('resolved hosts and merged vars (secrets masked)')
      .description('Show each host of an inventory with its groups and merged variables, secrets masked.')
      .addOption(new Option('-i, --inventory <name|path>', 'inventory NAME or path; repeatable: merged in order').argParser(repeat))
      .option('--host <host>', 'one host, with where each value came from')
      .option('--list', 'the JSON ansible-inventory --list prints, to compare the two readings')
      .option('--json', 'machine-readable on stdout'),
  ).action(run('inventory'));

  p.command('roles')
    .summary('roles and their variables')
    .description('List the roles (built-in, ./roles, the playbook\'s roles/), or the variables of one.')
    .argument('[name]', 'a role: show its variables, nested fields, types, defaults and secrets')
    .option('--json', 'machine-readable on stdout')
    .action(run('roles'));

  p.command('completion')
    .summary('shell completion script for bash or zsh')
    .description('Print a completion script. bash: source <(mxplay completion bash); zsh: source <(mxplay completion zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action(run('completion'));

  // What the completion scripts call: candidates for the word being completed.
  p.command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption(true)
    .helpOption(false)
    .action(run('complete'));

  return p;
}
