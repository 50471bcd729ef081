/** Quote a string for POSIX sh: single quotes, with embedded single quotes spliced in. */
export function q(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** A here-document carrying arbitrary bytes as base64, safe for any content. */
export function base64Heredoc(content: string | Buffer): string {
  const b64 = Buffer.from(content).toString('base64').replace(/.{1,76}/g, '$&\n');
  return `<<'MXP_EOF'\n${b64}MXP_EOF`;
}
