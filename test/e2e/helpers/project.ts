// A temp folder for an e2e file's project (inventory, playbook, plans), removed when the file ends,
// also when a test fails: every e2e file that makes one through here leaves nothing in /tmp.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

export async function projectDir(name: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `mxplay-${name}-`));
  made.push(d);
  return d;
}

afterAll(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
