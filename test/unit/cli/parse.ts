import { parseCommandLine, type Io } from '../../../src/cli/main.ts';

/** Parse a command line as the process would, keeping what commander prints. */
export async function parse(argv: string[]) {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s) };
  return { parsed: await parseCommandLine(argv, io), out, err };
}
