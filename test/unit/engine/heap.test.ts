// A run over many hosts bounds V8's heap growth; a small one keeps V8's default. The flag set is
// one V8 knows (an unknown one would only print a warning, and the bound would be gone unseen).
import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';

const set: string[] = [];
vi.mock('node:v8', async (orig) => ({ ...(await orig<typeof import('node:v8')>()), setFlagsFromString: (f: string) => set.push(f) }));
const { boundHeapFor, HEAP_GROWTH_PERCENT, MANY_HOSTS } = await import('../../../src/engine/heap.ts');

describe('boundHeapFor', () => {
  it.each([
    [1, []],
    [MANY_HOSTS - 1, []],
    [MANY_HOSTS, [`--heap-growing-percent=${HEAP_GROWTH_PERCENT}`]],
    [500, [`--heap-growing-percent=${HEAP_GROWTH_PERCENT}`]],
  ])('%i host(s): %j', (hosts, flags) => {
    set.length = 0;
    boundHeapFor(hosts);
    expect(set).toEqual(flags);
  });

  it('sets a flag this Node knows', () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    expect(options).toMatch(/^\s*--heap-growing-percent\b/m);
  });
});
