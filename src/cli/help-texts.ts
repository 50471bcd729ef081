import type { Command } from 'commander';
import { MXPLAY_VERSION } from '../paths.ts';
import { program } from './program.ts';

/** What commander prints for help: outputHelp, not helpInformation, so the notes after the options come too. */
function helpOf(c: Command): string {
  let text = '';
  c.configureOutput({ writeOut: (s) => void (text += s) });
  c.outputHelp();
  return text;
}

/**
 * Every help text the CLI prints ('' the overview, then each command's), and the version line.
 * The build keeps them in dist/help.json: `mxplay --help` then prints without loading commander
 * (bin/mxplay.js), the same text, checked by test/e2e/cli-startup.e2e.test.ts.
 */
export function helpTexts(): Record<string, string> {
  const p = program(async () => {});
  const texts: Record<string, string> = { '': helpOf(p) };
  for (const c of p.commands) if (!c.name().startsWith('__')) texts[c.name()] = helpOf(c);
  texts['--version'] = `mxplay ${MXPLAY_VERSION}\n`;
  return texts;
}
