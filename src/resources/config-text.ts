// Encoders for the configuration formats role templates write: each turns a value into text that
// the program reading the file reads back as exactly that value, whatever it holds, or throws
// when the format cannot hold the value at all. Roles refuse such values in their schemas first
// (with a message naming the key); the throw here is the backstop that keeps a value from ever
// reaching a file as structure.
//
// A value that needs no quoting in a format is written as it is, so files rendered from ordinary
// values stay byte-identical to the plain interpolation they replace.

/** What nginx and Apache both read as one bare word, unchanged: no quoting needed. */
const PLAIN = /^[A-Za-z0-9._~/:@+,=%[\]-]+$/;

/** The value itself is not in the message: it may be a secret. */
function refuse(format: string, what: string): never {
  throw new Error(`${format} cannot hold ${what}`);
}

/**
 * nginx: one argument of a directive that nginx's tokenizer (ngx_conf_read_token) reads back as
 * exactly `value`: bare when plain, else double-quoted with `\` and `"` escaped and tab, CR and LF
 * written as nginx's own escapes `\t` `\r` `\n`. The tokenizer keeps `$` as text; whether it then
 * starts a variable depends on the directive: see nginxLiteral. A NUL is refused (nginx keeps
 * arguments as C strings).
 */
export function nginxString(value: string): string {
  if (value.includes('\0')) refuse('nginx', 'a NUL character');
  if (PLAIN.test(value)) return value;
  const escaped = value.replace(/[\\"\t\r\n]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\t': '\\t', '\r': '\\r', '\n': '\\n' })[c]!);
  return `"${escaped}"`;
}

/**
 * nginx: literal text in an argument nginx expands variables in (root, alias, proxy_pass, return,
 * ssl_certificate, ...). nginx has no escape for `$` there (ngx_http_script_compile reads every
 * `$` as the start of a variable name), so a value with a `$` is refused.
 */
export function nginxLiteral(value: string): string {
  if (value.includes('$')) refuse('nginx', 'a literal $ in an argument that expands variables');
  return nginxString(value);
}

/**
 * Apache httpd: one argument of a directive (or of a <Section>) that ap_getword_conf reads back as
 * exactly `value`: bare when plain, else double-quoted with `\` and `"` escaped. Refused: a NUL,
 * a line break (a directive is one line) and `${` (Apache replaces ${NAME} with a Define or an
 * environment variable on every line before parsing it, and has no escape for it).
 */
export function apacheString(value: string): string {
  if (value.includes('\0')) refuse('Apache', 'a NUL character');
  if (/[\r\n]/.test(value)) refuse('Apache', 'a line break');
  if (value.includes('${')) refuse('Apache', '"${" (it substitutes ${NAME} and has no escape for it)');
  if (PLAIN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** The longest line coturn reads whole (fgets into a 1024-byte buffer, less one): longer ones are split into two lines. */
export const TURNSERVER_LINE_MAX = 1023;

/**
 * coturn: the line `name=value` of turnserver.conf, read back by coturn (read_config_file and
 * parse_arg_string) as exactly `value`. coturn cuts spaces, tabs and `=` at the start of a value
 * and white space at the end of a line, and takes one pair of double quotes off a value that
 * starts with one: such a value is written in double quotes (coturn takes the rest literally, `#`
 * included). Refused: a NUL or a line break (one option is one line), and a line longer than
 * TURNSERVER_LINE_MAX bytes (coturn would read its tail as another option).
 */
export function turnserverOption(name: string, value: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) refuse('turnserver.conf', `the option name ${JSON.stringify(name)}`);
  if (value.includes('\0')) refuse('turnserver.conf', `a NUL character (${name})`);
  if (/[\r\n]/.test(value)) refuse('turnserver.conf', `a line break (${name})`);
  const quote = value === '' || /^[\s="]/.test(value) || /\s$/.test(value);
  const line = `${name}=${quote ? `"${value}"` : value}`;
  if (Buffer.byteLength(line) > TURNSERVER_LINE_MAX) refuse('turnserver.conf', `a line longer than ${TURNSERVER_LINE_MAX} bytes (${name})`);
  return line;
}

/**
 * docker compose's .env (compose-go's dotenv parser): a value read back as exactly `value`.
 * Single-quoted (taken literally) when it holds no `'`, `\` or line break; otherwise
 * double-quoted, with `\` and `"` escaped, CR and LF as `\r` `\n`, and `$` written `$$` (compose
 * expands variables in double quotes). A NUL is refused (no environment variable can hold one).
 */
export function envValue(value: string): string {
  if (value.includes('\0')) refuse('.env', 'a NUL character');
  if (!/['\\\r\n]/.test(value)) return `'${value}'`;
  const escaped = value.replace(/[\\"$\r\n]/g, (c) => ({ '\\': '\\\\', '"': '\\"', $: '$$', '\r': '\\r', '\n': '\\n' })[c]!);
  return `"${escaped}"`;
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '\r': '&#13;' };

/**
 * HTML: text (or a quoted attribute value) a browser reads back as exactly `value`: `& < > " '`
 * as character references, and CR too (HTML turns a raw CR into LF). A NUL is refused (HTML
 * reads it as U+FFFD).
 */
export function htmlText(value: string): string {
  if (value.includes('\0')) refuse('HTML', 'a NUL character');
  return value.replace(/[&<>"'\r]/g, (c) => HTML[c]!);
}

/**
 * HTML that Jinja2 renders first (Synapse's consent templates): htmlText with `{` and `}` as
 * character references too, so no value can open a Jinja2 tag ({{ }}, {% %}, {# #}): Jinja2 copies
 * the text through and the browser shows the value.
 */
export function jinjaHtmlText(value: string): string {
  return htmlText(value).replace(/[{}]/g, (c) => (c === '{' ? '&#123;' : '&#125;'));
}

/**
 * Redis: one argument of a redis.conf directive, read back (loadServerConfigFromString splits the
 * file into lines, sdssplitargs each line into words) as exactly the UTF-8 bytes of `value`.
 * Always written double-quoted; inside, printable ASCII stays as it is but for `"` and `\`, and
 * every other byte (controls, DEL, `"`, `\` and each byte of a non-ASCII character) is written as
 * sdssplitargs' `\xHH` escape. So the argument holds no raw line break, quote or backslash: no
 * value can end the string, start another directive or leave the line unbalanced. A NUL is
 * written as `\x00` too (Redis keeps config values as binary-safe sds strings); nothing is refused.
 * (A lone UTF-16 surrogate has no UTF-8 form: it is written as U+FFFD, as in every file written.)
 */
export function redisString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}
