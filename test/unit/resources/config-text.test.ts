// Every encoder of src/resources/config-text.ts against the reader of its format: hostile values
// read back exactly, and what a format cannot hold is refused. nginx, Apache, coturn and compose
// are not on this machine: each is decoded by a small reference reader written from the program's
// own parser (named at each), kept to the rules that matter for one value. Jinja2 is the real one
// when python3 has it.
import { describe, expect, it } from 'vitest';
import { redisConfig } from '../redis-conf-reader.ts';
import {
  apacheString, envValue, htmlText, jinjaHtmlText, nginxLiteral, nginxString, redisString, turnserverOption, TURNSERVER_LINE_MAX,
} from '../../../src/resources/config-text.ts';

const HOSTILE = [
  'plain', '', ' ', '  lead and trail  ', 'a b', 'tab\there',
  '"', "'", '"double"', "'single'", '"', '\\', 'ends with \\', '\\"', "\\'", '\\\\n', 'a\\nb',
  '$', '$x', '${x}', '$$', '\\$x', '${APACHE_LOG_DIR}', '${HOME}/x', '%{REQUEST_URI}', '%(app)s', '100%',
  ';', 'a; }', '}', '{', '{ x }', '#', 'a #b', '# c', 'x\ny', 'x\r\ny', '\n', 'trailing\n', '\ry',
  '=', '==x', '= x', 'key=value', 'x" y', '"x', 'x"', '" x "',
  '<>&', '</title><script>alert(1)</script>', '{{ user }}', '{% if 1 %}x{% endif %}', '{# c #}', '&amp;', '&#123;',
  'unicode: Grüße ✓ 日本語 🎉', '\u00a0nbsp\u00a0', '\u2028sep', 'a\u0001b\u007fc',
  '/etc/ssl/a b/c.pem', 'https://x/$request_uri', 'http://[::1]:8008', 'a\\', '\\\\',
];
const noNul = (v: string) => !v.includes('\0');

// ---------------------------------------------------------------------------------------------
// nginx: src/core/ngx_conf_file.c, ngx_conf_read_token: words split on space, tab, CR, LF, `;` and
// `{`; `"..."` and `'...'` quote; `\` makes the next character literal while scanning; when the
// word is copied `\"` `\'` `\\` lose their backslash and `\t` `\r` `\n` become the control
// characters. A quoted word must be followed by white space, `;` or `{`. `#` at a word's start
// comments to the end of the line; `${` does not end a bare word.
function nginxDirective(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  const ws = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  const unescape = (raw: string) => raw.replace(/\\(["'\\tnr])/g, (_m, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
  for (;;) {
    while (ws(text[i])) i++;
    const c = text[i];
    if (c === undefined) throw new Error('unexpected end of file');
    if (c === ';') return words;
    if (c === '{' || c === '}') throw new Error(`unexpected "${c}"`);
    if (c === '#') throw new Error('a comment where a word was expected');
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (text[j] !== c) {
        if (text[j] === undefined) throw new Error('unterminated quote');
        j += text[j] === '\\' ? 2 : 1;
      }
      words.push(unescape(text.slice(i + 1, j)));
      i = j + 1;
      if (!(ws(text[i]) || text[i] === ';' || text[i] === '{')) throw new Error(`unexpected "${text[i]}"`);
      continue;
    }
    let j = i;
    let variable = false;
    for (;;) {
      const d = text[j];
      if (d === undefined) throw new Error('unexpected end of file');
      if (d === '{' && variable) { j++; continue; }
      variable = false;
      if (d === '\\') { j += 2; continue; }
      if (d === '$') { variable = true; j++; continue; }
      if (ws(d) || d === ';' || d === '{') break;
      j++;
    }
    words.push(unescape(text.slice(i, j)));
    i = j;
  }
}

describe('nginxString: nginx reads the argument back exactly', () => {
  it.each(HOSTILE.filter(noNul).map((v) => [JSON.stringify(v), v]))('%s', (_n, v) => {
    expect(nginxDirective(`root ${nginxString(v)} tail;\nnext;`)).toEqual(['root', v, 'tail']);
  });

  it('plain values stay bare (files rendered from ordinary values do not change)', () => {
    for (const v of ['/etc/ssl/mxplay-selfsigned/matrix.example.com+element.example.com.crt', 'http://[::1]:8008', 'matrix.example.com', '10.0.0.0/8']) {
      expect(nginxString(v)).toBe(v);
    }
    expect(nginxString('/a b')).toBe('"/a b"');
  });

  it('refuses a NUL', () => expect(() => nginxString('a\0b')).toThrow('nginx cannot hold a NUL character'));

  it('nginxLiteral: the same, but refuses $ (nginx has no escape for it where variables expand)', () => {
    expect(nginxLiteral('/var/www/a b;}')).toBe('"/var/www/a b;}"');
    for (const v of ['$', '/a$b', '${x}']) expect(() => nginxLiteral(v)).toThrow('nginx cannot hold a literal $ in an argument that expands variables');
  });
});

// ---------------------------------------------------------------------------------------------
// Apache httpd: server/config.c reads one line (ap_cfg_getline; a trailing `\` joins the next) and
// replaces ${NAME} by a Define or an environment variable (server/core.c ap_resolve_env); then
// server/util.c ap_getword_conf splits words: a word starting with `"` or `'` runs to the
// matching quote, where `\` before the quote or before `\` is dropped; a bare word runs to white
// space and also turns `\\` into `\`. A <Section> argument is read up to the last `>`.
const DEFINED: Record<string, string> = { APACHE_LOG_DIR: '/var/log/apache2', HOME: '/root' };
function apacheLine(text: string): string[] {
  const lines = text.replace(/\\\n/g, '').split('\n');
  let line = lines[0]!.replace(/^[ \t\v\f\r]+|[ \t\v\f\r]+$/g, '');
  line = line.replace(/\$\{([^}]*)\}/g, (m, name: string) => DEFINED[name] ?? m);
  if (line.startsWith('<')) line = line.slice(1, line.lastIndexOf('>'));
  const words: string[] = [];
  let i = 0;
  const space = (c: string | undefined) => c !== undefined && /[ \t\n\v\f\r]/.test(c); // apr_isspace: ASCII only
  while (i < line.length) {
    while (space(line[i])) i++;
    if (i >= line.length) break;
    const q = line[i];
    let j: number;
    let raw: string;
    if (q === '"' || q === "'") {
      j = i + 1;
      while (j < line.length && line[j] !== q) j += line[j] === '\\' && (line[j + 1] === q || line[j + 1] === '\\') ? 2 : 1;
      raw = line.slice(i + 1, j).replace(new RegExp(`\\\\([\\\\${q}])`, 'g'), '$1');
      j++;
    } else {
      j = i;
      while (j < line.length && !space(line[j])) j++;
      raw = line.slice(i, j).replace(/\\\\/g, '\\');
    }
    words.push(raw);
    i = j;
  }
  return words;
}

describe('apacheString: Apache reads the argument back exactly', () => {
  const holds = (v: string) => !/[\0\r\n]/.test(v) && !v.includes('${');
  it.each(HOSTILE.filter(holds).map((v) => [JSON.stringify(v), v]))('%s', (_n, v) => {
    expect(apacheLine(`    SSLCertificateFile ${apacheString(v)} tail\nNext x`)).toEqual(['SSLCertificateFile', v, 'tail']);
    expect(apacheLine(`<Directory ${apacheString(v)}>`)).toEqual(['Directory', v]);
  });

  it.each([
    ['a line break', 'x\ny', 'Apache cannot hold a line break'],
    ['a CR', 'x\ry', 'Apache cannot hold a line break'],
    ['${NAME}, which Apache substitutes', '${APACHE_LOG_DIR}', 'Apache cannot hold "${"'],
    ['a NUL', 'a\0b', 'Apache cannot hold a NUL character'],
  ])('refuses %s', (_n, v, msg) => expect(() => apacheString(v)).toThrow(msg));

  it('plain values stay bare', () => {
    for (const v of ['/var/www/element/current', 'http://127.0.0.1:8008/_matrix', '2001:db8::/32']) expect(apacheString(v)).toBe(v);
  });
});

// ---------------------------------------------------------------------------------------------
// coturn: src/apps/relay/mainrelay.c read_config_file reads lines with fgets into a 1024-byte
// buffer less one (a longer line is read as two), skips blanks (skip_blanks), `#` lines and empty
// ones, strips trailing white space (isspace); parse_arg_string ends the name at the first space,
// tab or `=`, skips every space, tab and `=` after it, and of a value starting with `"` drops that
// quote, trailing white space, then one trailing `"`.
function turnserverConf(text: string): [string, string][] {
  const bytes = Buffer.from(text);
  const out: [string, string][] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let end = bytes.indexOf(0x0a, pos);
    end = end < 0 ? bytes.length : end + 1;
    end = Math.min(end, pos + TURNSERVER_LINE_MAX); // fgets(sbuf, 1024, f) reads at most 1023 bytes
    let s = bytes.subarray(pos, end).toString('latin1');
    pos = end;
    s = s.replace(/^[ \t\n]+/, '');
    if (s.startsWith('#') || s === '') continue;
    s = s.replace(/[ \t\n\v\f\r]+$/, '');
    if (!s) continue;
    const m = /^([^ =\t]*)[ =\t]*([\s\S]*)$/.exec(s)!;
    let value = m[2]!;
    if (value.startsWith('"')) value = value.slice(1).replace(/[\n\r \t]+$/, '').replace(/"$/, '');
    out.push([m[1]!, Buffer.from(value, 'latin1').toString()]);
  }
  return out;
}

describe('turnserverOption: coturn reads the option back exactly', () => {
  const holds = (v: string) => !/[\0\r\n]/.test(v);
  it.each(HOSTILE.filter(holds).map((v) => [JSON.stringify(v), v]))('%s', (_n, v) => {
    const conf = `# managed\nlistening-port=3478\n${turnserverOption('static-auth-secret', v)}\nno-cli\n`;
    expect(turnserverConf(conf)).toEqual([['listening-port', '3478'], ['static-auth-secret', v], ['no-cli', '']]);
  });

  it('ordinary values are written as before', () => {
    expect(turnserverOption('realm', 'turn.example.com')).toBe('realm=turn.example.com');
    expect(turnserverOption('denied-peer-ip', '10.0.0.0-10.255.255.255')).toBe('denied-peer-ip=10.0.0.0-10.255.255.255');
  });

  it.each([
    ['a line break', 'x\nno-auth', 'turnserver.conf cannot hold a line break (realm)'],
    ['a CR', 'x\rno-auth', 'turnserver.conf cannot hold a line break (realm)'],
    ['a NUL', 'a\0b', 'turnserver.conf cannot hold a NUL character (realm)'],
    ['a line coturn would read as two', `${'x'.repeat(TURNSERVER_LINE_MAX)}no-auth`, `turnserver.conf cannot hold a line longer than ${TURNSERVER_LINE_MAX} bytes (realm)`],
  ])('refuses %s', (_n, v, msg) => expect(() => turnserverOption('realm', v)).toThrow(msg));

  it('the longest line it writes is read whole; one byte more would be read as two options', () => {
    const v = 'x'.repeat(TURNSERVER_LINE_MAX - 'realm='.length);
    expect(turnserverConf(`${turnserverOption('realm', v)}\n`)).toEqual([['realm', v]]);
    expect(turnserverConf(`realm=${v}no-auth\n`)).toEqual([['realm', v], ['no-auth', '']]);
    expect(() => turnserverOption('realm', `${v}é`)).toThrow(); // bytes, not characters
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose's .env: compose-go dotenv/parser.go. A value in `'` or `"` runs to the matching
// quote; while scanning, `\` followed by that quote yields the quote, followed by anything else
// both characters. Single-quoted values are then literal; double-quoted ones get expandEscapes
// (`\\` `\n` `\r` `\t` `\"` `\$` ...) and then variable substitution (template.Substitute: `$$`
// is `$`, `$NAME` and `${NAME}` are replaced). Unquoted values end at the line and at ` #`.
function dotenv(text: string, env: Record<string, string> = { x: 'X', HOME: '/root' }): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = text;
  for (;;) {
    rest = rest.replace(/^\s+/, '');
    if (rest.startsWith('#')) { rest = rest.slice(rest.indexOf('\n') + 1 || rest.length); continue; }
    if (!rest) return out;
    const eq = rest.indexOf('=');
    const key = rest.slice(0, eq).trim();
    rest = rest.slice(eq + 1).replace(/^[ \t]+/, '');
    const q = rest[0];
    if (q !== '"' && q !== "'") {
      const nl = rest.indexOf('\n');
      out[key] = (nl < 0 ? rest : rest.slice(0, nl)).split(' #')[0]!.trimEnd();
      rest = nl < 0 ? '' : rest.slice(nl);
      continue;
    }
    let chars = '';
    let esc = false;
    let i = 1;
    for (; i < rest.length; i++) {
      const c = rest[i]!;
      if (c !== q) {
        if (!esc && c === '\\') { esc = true; continue; }
        if (esc) { esc = false; chars += '\\'; }
        chars += c;
        continue;
      }
      if (esc) { esc = false; chars += c; continue; }
      break;
    }
    if (i >= rest.length) throw new Error(`unterminated quoted value for ${key}`);
    if (q === '"') {
      chars = chars.replace(/\\(?:[abcfnrtv$"\\]|0\d{0,3})/g, (m) => (m === '\\$' ? '$$' : ({ '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\"': '"', '\\\\': '\\' } as Record<string, string>)[m] ?? m));
      chars = chars.replace(/\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\})/gi, (_m, dollar, named, braced) => (dollar ? '$' : env[named ?? braced] ?? ''));
    }
    out[key] = chars;
    rest = rest.slice(i + 1);
  }
}

describe('envValue: compose reads the value back exactly', () => {
  it.each(HOSTILE.filter(noNul).map((v) => [JSON.stringify(v), v]))('%s', (_n, v) => {
    expect(dotenv(`# head\nA=${envValue(v)}\nB='after'\n`)).toEqual({ A: v, B: 'after' });
  });

  it('ordinary values stay single-quoted as before', () => {
    expect(envValue('/srv/jitsi/config')).toBe("'/srv/jitsi/config'");
    expect(envValue('a$b "c" #d')).toBe("'a$b \"c\" #d'");
  });

  it('refuses a NUL', () => expect(() => envValue('a\0b')).toThrow('.env cannot hold a NUL character'));
});

// ---------------------------------------------------------------------------------------------
// HTML and Jinja2-rendered HTML (Synapse's consent templates).
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };
const htmlDecode = (s: string) =>
  s.replace(/&(#(\d+)|([a-z]+));/g, (m, _e, num: string | undefined, name: string | undefined) => (num ? String.fromCodePoint(Number(num)) : ENTITIES[name!] ?? m));

describe('htmlText and jinjaHtmlText', () => {
  it.each(HOSTILE.filter(noNul).map((v) => [JSON.stringify(v), v]))('%s: no markup, no Jinja2 tag, decodes to the value', (_n, v) => {
    const h = htmlText(v);
    expect(h).not.toMatch(/[<>"'\r]/);
    expect(htmlDecode(h)).toBe(v);
    const j = jinjaHtmlText(v);
    expect(j).not.toMatch(/[<>"'{}\r]/);
    expect(htmlDecode(j)).toBe(v);
  });

  it('ordinary text is unchanged; NUL refused', () => {
    expect(jinjaHtmlText('Privacy Policy')).toBe('Privacy Policy');
    expect(() => htmlText('a\0b')).toThrow('HTML cannot hold a NUL character');
  });

  // Jinja2 itself is not on this machine: consent.e2e shows a hostile policy name through
  // Synapse's own rendering of the consent page on a lab host.
});

describe('the reference readers catch what plain interpolation did', () => {
  it.each<[string, () => unknown, unknown]>([
    ['nginx: a value with ";" ends the directive', () => nginxDirective('root /a; } server { x;'), ['root', '/a']],
    ['Apache: a value with a space is two words', () => apacheLine('DocumentRoot /a b'), ['DocumentRoot', '/a', 'b']],
    ['coturn: a value with a line break adds an option', () => turnserverConf('realm=x\nno-auth\n'), [['realm', 'x'], ['no-auth', '']]],
    ['compose: a value ending in \\ swallows the next line', () => dotenv("A='x\\'\nB='y'\n"), { A: "x'\nB=", "y'": "y'" }],
  ])('%s', (_n, read, misread) => {
    let got: unknown;
    try {
      got = read();
    } catch (e) {
      got = (e as Error).message;
    }
    if (typeof got === 'string') expect(got).toMatch(/unterminated|unexpected/);
    else expect(got).toEqual(misread);
  });
});

describe('redisString: Redis reads the argument back exactly', () => {
  // Every value, NUL included: Redis keeps config values as binary-safe strings.
  const VALUES = [...HOSTILE, 'a\0b', '\0', '\\x41', '\\x4', '"\\x41"', "it's", "'", "\\'", '\b\u0007\v\f', 'x"y z', 'x" y', 'requirepass', '#x'];
  it.each(VALUES.map((v) => [JSON.stringify(v), v]))('%s', (_n, v) => {
    const conf = `# managed\nbind 127.0.0.1 -::1\nrequirepass ${redisString(v)}\nport 6379\n`;
    expect(redisConfig(conf)).toEqual([['bind', '127.0.0.1', '-::1'], ['requirepass', v], ['port', '6379']]);
  });

  it.each<[string, string, string]>([
    ['printable ASCII stays as it is, in double quotes', 'plain-Password_1.~!#$%&()*+,/:;<=>?@[]^`{|}', '"plain-Password_1.~!#$%&()*+,/:;<=>?@[]^`{|}"'],
    ["a space and a single quote are kept", "a b'c", '"a b\'c"'],
    ['" and \\ are written \\xHH', 'a"b\\c', '"a\\x22b\\x5cc"'],
    ['controls and DEL', '\n\r\t\0\u007f', '"\\x0a\\x0d\\x09\\x00\\x7f"'],
    ['non-ASCII: each UTF-8 byte', 'é☃𝄞', '"\\xc3\\xa9\\xe2\\x98\\x83\\xf0\\x9d\\x84\\x9e"'],
    ['the empty string', '', '""'],
  ])('%s', (_n, v, want) => expect(redisString(v)).toBe(want));

  it('every code point up to U+024F and beyond the BMP: only printable ASCII inside one pair of quotes, read back exactly', () => {
    const chars = [...Array.from({ length: 0x250 }, (_, i) => String.fromCodePoint(i)), '\u2028', '\ufeff', '\u{1f389}', '\u{10ffff}'];
    for (const ch of chars) {
      const v = `a${ch}b`;
      const s = redisString(v);
      expect(s, JSON.stringify(v)).toMatch(/^"(?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\x[0-9a-f]{2})*"$/);
      expect(redisConfig(`requirepass ${s}\nport 1\n`), JSON.stringify(v)).toEqual([['requirepass', v], ['port', '1']]);
    }
    const all = Array.from({ length: 0x250 }, (_, i) => String.fromCodePoint(i)).join('');
    expect(redisConfig(`requirepass ${redisString(all)}`)).toEqual([['requirepass', all]]);
  });

  it.each<[string, string, string[][] | RegExp]>([
    ['a bare value with a space is two words', 'requirepass a b\n', [['requirepass', 'a', 'b']]],
    ['a bare value with a line break adds a directive', 'requirepass x\nbind 0.0.0.0\n', [['requirepass', 'x'], ['bind', '0.0.0.0']]],
    ['a quoted value with a line break leaves the quote open', 'requirepass "x\nbind 0.0.0.0"\n', /unterminated quotes/],
    ['a quoted value holding `" ` ends early: the rest are more words', 'requirepass "a" x y\n', [['requirepass', 'a', 'x', 'y']]],
    ['a quote in a bare word opens a quote', 'requirepass a"b\n', /unterminated quotes/],
    ['a quoted value with a quote not followed by a blank is refused', 'requirepass "a"b"\n', /after a closing quote/],
    ['a backslash escapes in double quotes', 'requirepass "a\\nb\\x41\\q"\n', [['requirepass', 'a\nbAq']]],
    ['a # starts a comment only at the start of a line', '# requirepass x\nrequirepass a#b\n', [['requirepass', 'a#b']]],
  ])('the reference reader: %s', (_n, text, want) => {
    if (want instanceof RegExp) expect(() => redisConfig(text)).toThrow(want);
    else expect(redisConfig(text)).toEqual(want);
  });
});
