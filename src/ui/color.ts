import { stdout } from 'node:process';

const enabled = stdout.isTTY && !process.env.NO_COLOR;
const wrap = (code: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);

export const c = {
  green: wrap(32),
  red: wrap(31),
  yellow: wrap(33),
  cyan: wrap(36),
  bold: wrap(1),
  dim: wrap(2),
};
