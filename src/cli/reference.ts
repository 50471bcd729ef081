import { helpTexts } from './help-texts.ts';

export const REFERENCE_START = '<!-- cli-reference: made by `npx tsx scripts/cli-reference.ts` from the help texts; do not edit -->';
export const REFERENCE_END = '<!-- /cli-reference -->';

/** The README's CLI reference: `mxplay --help` and each command's help, as the CLI prints them. */
export function cliReference(): string {
  const texts = helpTexts();
  const blocks = Object.entries(texts)
    .filter(([name]) => name !== '--version')
    .map(([name, text]) => ({ title: `mxplay ${name ? `${name} ` : ''}--help`, text }));
  const body = blocks.map((b) => `<details><summary><code>${b.title}</code></summary>\n\n\`\`\`\n${b.text.trimEnd()}\n\`\`\`\n\n</details>`).join('\n\n');
  return `${REFERENCE_START}\n\n${body}\n\n${REFERENCE_END}`;
}

/** README text with its reference block replaced by `reference`. */
export function withReference(readme: string, reference: string): string {
  const a = readme.indexOf(REFERENCE_START);
  const b = readme.indexOf(REFERENCE_END);
  if (a < 0 || b < a) throw new Error('README.md has no cli-reference block');
  return readme.slice(0, a) + reference + readme.slice(b + REFERENCE_END.length);
}
