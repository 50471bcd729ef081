// The function EJS makes of a template, remembered across runs. Why: EJS's scan of a template for
// its tags runs cold at every start (about 0.4 ms a template here, where making the function from
// its source takes a tenth of that), and a role renders dozens of templates.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { privateCacheFolder, pruneUnused } from '../cache-folder.ts';

/** How mxplay compiles every template: plain names (strict off), values as they are (no HTML escaping). */
const OPTIONS = { strict: false };
const escape = (s: unknown) => String(s);

/**
 * `text` (the template at `path`) as EJS compiles it. EJS's Template takes a ready source and then
 * skips its own scan: the source is kept, one file per EJS version, options and text, in a private
 * cache folder (it is run, so nobody else may write there); without one, EJS scans as usual.
 */
export function compileEjs(path: string, text: string): ejs.TemplateFunction {
  const opts = { ...OPTIONS, filename: path, escape };
  const dir = privateCacheFolder('ejs');
  const file = dir && join(dir, `${createHash('sha256').update(`${ejs.VERSION}\0${JSON.stringify(OPTIONS)}\0${text}`).digest('hex')}.js`);
  const template = new ejs.Template(text, opts) as ejs.Template & { source: string };
  let known: string | undefined;
  try {
    if (file) template.source = known = readFileSync(file, 'utf8');
  } catch {
    /* not compiled before */
  }
  const fn = template.compile() as ejs.TemplateFunction;
  if (file && known === undefined) {
    // Written aside and renamed: a run meanwhile reads the whole source or none.
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, template.source, { mode: 0o600 });
      renameSync(tmp, file);
      pruneUnused(dir);
    } catch {
      /* not kept: scanned again next time */
    }
  }
  return fn;
}
