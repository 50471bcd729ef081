// Writes the README's CLI reference from the real help texts (test/unit/cli/reference.test.ts checks it is current).
import { readFileSync, writeFileSync } from 'node:fs';
import { cliReference, withReference } from '../src/cli/reference.ts';

const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', withReference(readme, cliReference()));
