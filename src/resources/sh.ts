/** Quote a string for POSIX sh: single quotes, with embedded single quotes spliced in. */
export function q(s: string): string {
  // A NUL cannot be carried by a shell word: the shell would cut the value there without a word.
  if (s.includes('\0')) throw new Error('a value with a NUL byte cannot be passed to a shell');
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/**
 * How data travels inside a script: base64 in a here-document, decoded on the host. The end line
 * holds '_', which base64 never does, so no data can end the here-document early, and the shell
 * expands nothing inside it. Every value sent as data (file contents, SQL, passwords) goes this way.
 */
export const HEREDOC_END = 'MXP_EOF';
const base64Lines = (data: string | Buffer) => Buffer.from(data).toString('base64').replace(/.{1,76}/g, '$&\n');

/** A here-document of the data's base64 (for a command that decodes its stdin itself). */
export function base64Heredoc(data: string | Buffer): string {
  return `<<'${HEREDOC_END}'\n${base64Lines(data)}${HEREDOC_END}`;
}

/** `command` reading the data, exactly as given, on its stdin. */
export function pipedFrom(data: string | Buffer, command: string): string {
  // The here-document's body starts on the line after the command: a command of several lines would take it.
  if (command.includes('\n')) throw new Error('pipedFrom: the command must be one line');
  return `base64 -d <<'${HEREDOC_END}' | ${command}\n${base64Lines(data)}${HEREDOC_END}`;
}
