// A role compiled into the cache (a user's role, or a built-in one edited after the build) sees
// its own source's URL as import.meta.url: files beside role.ts resolve as when it runs from
// source or prebuilt. The proxies hash their templates/ into the config generation this way; a
// cache-file URL found no templates there and gave a second generation for the same config.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compiledRole } from '../../../src/roles/compile.ts';
import { tempDir } from '../helpers.ts';

describe('compiledRole: import.meta.url', () => {
  it('is the URL of the role source, in the role and in the modules it imports', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'api.mjs'), 'export const x = 1;\n');
    writeFileSync(join(d, 'helper.ts'), 'export const helperUrl = (): string => import.meta.url;\n');
    writeFileSync(join(d, 'role.ts'), "import { helperUrl } from './helper.ts';\nexport default { own: import.meta.url, helper: helperUrl() };\n");
    const mod = (await import(await compiledRole(join(d, 'role.ts'), join(d, 'api.mjs')))) as { default: { own: string; helper: string } };
    const url = pathToFileURL(join(d, 'role.ts')).href;
    expect(mod.default).toEqual({ own: url, helper: url });
  });

});
