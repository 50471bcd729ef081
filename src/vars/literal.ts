/**
 * A value written so that Jinja evaluation (vars/jinja.ts, as Ansible's) gives it back as it is:
 * each string holding `{{`, `{%` or `{#` is wrapped in `{% raw %}…{% endraw %}` (a raw or endraw tag
 * inside it is given as an expression). For tools and tests that write inventories or -e files
 * holding such text literally; by hand, write `{% raw %}` yourself.
 */
export function jinjaLiteral<T>(v: T): T {
  if (typeof v === 'string') {
    if (!/\{[{%#]/.test(v)) return v;
    // Jinja's raw/endraw tags inside the text are given as expressions (nunjucks nests raw blocks).
    return v
      .split(/(\{%-?\s*(?:end)?raw\s*-?%\})/)
      .map((part, i) => (i % 2 ? `{{ '${part}' }}` : raw(part)))
      .join('') as T;
  }
  if (Array.isArray(v)) return v.map(jinjaLiteral) as T;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jinjaLiteral(x)])) as T;
  }
  return v;
}

/** Line breaks first, outside: the line break right after a block tag is dropped (trim_blocks, as Ansible's Jinja). */
function raw(part: string): string {
  const lead = /^[\r\n]*/.exec(part)![0];
  const rest = part.slice(lead.length);
  return lead + (rest ? `{% raw %}${rest}{% endraw %}` : '');
}
