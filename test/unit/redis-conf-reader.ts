// How Redis reads its config file, for tests that check what mxplay writes into one.
// Redis: src/config.c loadServerConfigFromString splits the file at `\n`, trims " \t\r\n" off
// each line, skips empty lines and lines starting with `#`, and splits the rest with src/sds.c
// sdssplitargs: blanks (isspace) between words; a bare word ends at space, tab, CR, LF or NUL, and
// a `"` or `'` in it opens a quote; in double quotes `\xHH` (two hex digits) is that byte,
// `\n \r \t \b \a` the control characters, `\` before any other character that character; in
// single quotes only `\'` is an escape. A closing quote must be followed by a blank or the end of
// the line; an open quote at the end of the line is an error (Redis: "Unbalanced quotes in
// configuration line"). Words are bytes: a directive's arguments come back as Buffers.
const isSpace = (b: number | undefined) => b !== undefined && (b === 0x20 || (b >= 0x09 && b <= 0x0d));
const isHex = (b: number | undefined) => b !== undefined && /^[0-9a-fA-F]$/.test(String.fromCharCode(b));

function sdssplitargs(line: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let p = 0;
  const at = (i: number) => (i < line.length ? line[i]! : 0); // the C string's terminating NUL
  for (;;) {
    while (at(p) && isSpace(at(p))) p++;
    if (!at(p)) return words;
    const cur: number[] = [];
    // Inside quotes: the quote character, " or '; 0 outside.
    let quote = 0;
    for (let done = false; !done; ) {
      const c = at(p);
      if (quote) {
        if (quote === 0x22 && c === 0x5c && at(p + 1) === 0x78 && isHex(at(p + 2)) && isHex(at(p + 3))) {
          cur.push(parseInt(String.fromCharCode(at(p + 2), at(p + 3)), 16));
          p += 3;
        } else if (quote === 0x22 && c === 0x5c && at(p + 1)) {
          p++;
          const e = String.fromCharCode(at(p));
          cur.push(({ n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, a: 0x07 } as Record<string, number>)[e] ?? at(p));
        } else if (quote === 0x27 && c === 0x5c && at(p + 1) === 0x27) {
          p++;
          cur.push(0x27);
        } else if (c === quote) {
          if (at(p + 1) && !isSpace(at(p + 1))) throw new Error('unexpected character after a closing quote');
          done = true;
        } else if (!c) {
          throw new Error('unterminated quotes');
        } else {
          cur.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else {
        cur.push(c);
      }
      if (at(p)) p++;
    }
    words.push(Buffer.from(cur));
  }
}

/** Each directive of a redis.conf text, its words decoded as UTF-8. */
export function redisConfig(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of Buffer.from(text).toString('latin1').split('\n')) {
    const line = raw.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    const words = sdssplitargs(Buffer.from(line, 'latin1')); // throws where Redis says "Unbalanced quotes"
    if (words.length) out.push(words.map((w) => w.toString('utf8')));
  }
  return out;
}
