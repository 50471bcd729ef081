import { stdout } from 'node:process';

let chosen: boolean | undefined;

/** --no-color: the command line wins over the environment, for every colour written from then on. */
export function setColour(on: boolean | undefined): void {
  chosen = on;
}

/** Colours on a terminal; FORCE_COLOR turns them on anywhere (CI logs), NO_COLOR off; FORCE_COLOR wins, as in Node. */
export function colourOn(stream: { isTTY?: boolean } = stdout): boolean {
  if (chosen !== undefined) return chosen;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (process.env.NO_COLOR) return false;
  return !!stream.isTTY;
}

const wrap = (code: number) => (s: string) => (colourOn() ? `\x1b[${code}m${s}\x1b[0m` : s);

export const c = {
  green: wrap(32),
  red: wrap(31),
  yellow: wrap(33),
  cyan: wrap(36),
  bold: wrap(1),
  dim: wrap(2),
};

export type Palette = typeof c;

const plain: Palette = { green: String, red: String, yellow: String, cyan: String, bold: String, dim: String };

/** The colours, or none: a text written to a file or a pipe has none. */
export const palette = (colour: boolean): Palette => (colour ? c : plain);

/** A plan's action symbol (+ ~ - ?, and ! for a pending handler) in its colour, in every output. */
export function paintAction(symbol: string, k: Palette): string {
  const colour = symbol === '+' ? k.green : symbol === '-' ? k.red : symbol === '?' ? k.cyan : k.yellow;
  return colour(symbol);
}

/** A line of a unified diff in its colour: file names bold, additions green, removals red, hunks cyan. */
export function paintDiffLine(line: string, k: Palette): string {
  if (line.startsWith('+++') || line.startsWith('---')) return k.bold(line);
  if (line.startsWith('+')) return k.green(line);
  if (line.startsWith('-')) return k.red(line);
  if (line.startsWith('@@')) return k.cyan(line);
  return line;
}
