import { CommanderError, type Command } from 'commander';
import type { SecretRegistry } from '../secrets/registry.ts';
import { program, type CommandName, type Opts } from './program.ts';

export { helpTexts } from './help-texts.ts';

/** Where commander's own messages (help, version, parse errors) go; the commands write to the process. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const processIo: Io = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };

export type Parsed = { command: CommandName; args: string[]; opts: Opts } | { exit: number };

/**
 * `-out plan.json` is `-o ut`, followed by a stray word, to commander as to getopt; Terraform's users
 * type it. An option's value glued to its short flag is refused rather than guessed.
 */
function gluedValue(argv: string[], p: Command): string | undefined {
  const valued = new Map<string, string>();
  for (const c of [p, ...p.commands]) {
    for (const o of c.options) if (o.short && (o.required || o.optional)) valued.set(o.short, o.long ?? o.short);
  }
  for (const a of argv) {
    if (a === '--') break;
    const m = /^(-[A-Za-z])(.+)$/.exec(a);
    if (m && valued.has(m[1]!) && !m[2]!.startsWith('-')) {
      return `'${a}' reads as ${m[1]} '${m[2]}': write ${m[1]} and its value apart (${m[1]} VALUE), or ${valued.get(m[1]!)} VALUE` +
        (a === '-out' ? " (Terraform's -out is -o here)" : '');
    }
  }
  return undefined;
}

/** The command line read into one command, its positionals and options, or the exit code of help, version or a parse error. */
export async function parseCommandLine(argv: string[], io: Io = processIo): Promise<Parsed> {
  let chosen: Parsed = { exit: 1 };
  const p = program(async (command, args, opts) => {
    chosen = { command, args, opts };
  });
  const outputs = { writeOut: io.out, writeErr: io.err, outputError: (s: string, write: (s: string) => void) => write(s) };
  for (const c of [p, ...p.commands]) c.configureOutput(outputs);
  const glued = gluedValue(argv, p);
  if (glued) {
    io.err(`error: ${glued}\n`);
    return { exit: 1 };
  }
  if (!argv.length) {
    io.err(p.helpInformation());
    return { exit: 1 };
  }
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return { exit: e.exitCode };
    throw e;
  }
  return chosen;
}

/** One command; `secrets` is the run's registry, filled as inputs are read, masking every output. Input errors are thrown. */
export async function main(argv: string[], secrets?: SecretRegistry, io: Io = processIo): Promise<number> {
  const parsed = await parseCommandLine(argv, io);
  if ('exit' in parsed) return parsed.exit;
  const { runParsed } = await import('./commands.ts');
  return runParsed(parsed, secrets);
}

/** The process's command line: errors reported (secrets masked), the exit code set. */
export async function cli(argv: string[]): Promise<void> {
  const parsed = await parseCommandLine(argv);
  if ('exit' in parsed) {
    process.exitCode = parsed.exit;
    return;
  }
  const { runReported } = await import('./commands.ts');
  process.exitCode = await runReported(parsed);
}
