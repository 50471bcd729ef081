// The base rootfs every lab host boots from (as the lower layer of its
// overlay): built once with debootstrap in a side directory, renamed into
// place only when complete (with a marker holding its recipe hash), reused
// while the recipe (base-recipe.ts and the settings it bakes in) is unchanged.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE_BUILD_DIR,
  BASE_DIR,
  BASE_MARKER,
  HOSTS_DIR,
  LOG_DIR,
  MIRROR,
  PROXY_URL,
  SUITE,
} from './config.ts';
import { run, tail } from './exec.ts';
import { ensureLabKey } from './keys.ts';
import { log, timed } from './log.ts';
import { mountsUnder, removeTree } from './mounts.ts';
import { descendants, findProcesses, signal, terminate } from './proc.ts';
import { configureBase, INCLUDES } from './base-recipe.ts';

async function recipeHash(publicKey: string): Promise<string> {
  const recipe = await readFile(fileURLToPath(new URL('./base-recipe.ts', import.meta.url)), 'utf8');
  return createHash('sha256')
    .update(JSON.stringify({ recipe, publicKey, SUITE, MIRROR, PROXY_URL }))
    .digest('hex')
    .slice(0, 16);
}

async function currentRecipe(): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(BASE_MARKER, 'utf8')) as { recipe?: string }).recipe;
  } catch {
    return undefined; // no base, or a half-built one: both mean "build"
  }
}

export async function ensureBase(): Promise<void> {
  const publicKey = await ensureLabKey();
  const recipe = await recipeHash(publicKey);
  const current = await currentRecipe();
  if (current === recipe) return;

  // Overlays of running hosts read the base as their lower layer: replacing
  // it under them would corrupt them.
  const inUse = (await mountsUnder(HOSTS_DIR)).length > 0;
  if (inUse) {
    throw new Error(
      `the lab base rootfs ${current ? 'is out of date (its recipe changed)' : 'is incomplete'}, ` +
        'but lab hosts are running on it: run `npm run lab -- down` first',
    );
  }
  log(current ? 'base recipe changed: rebuilding the base rootfs' : 'building the base rootfs (once, ~1 min)');
  await timed('base rootfs built', () => build(recipe, publicKey));
}

/** A debootstrap left running by a killed `up` would keep writing into the
 * build dir while we remove or rebuild it: end it, and everything under it. */
export async function stopStrayBuild(): Promise<void> {
  for (const pid of await findProcesses([BASE_BUILD_DIR])) {
    log(`stopping a debootstrap left over from an interrupted run (pid ${pid})`);
    for (const child of await descendants(pid)) signal(child, 'SIGKILL');
    await terminate(pid, 'debootstrap', 1_000);
  }
}

async function build(recipe: string, publicKey: string): Promise<void> {
  await stopStrayBuild();
  await removeTree(BASE_BUILD_DIR);
  await mkdir(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, 'debootstrap.log');
  const argv = [
    'debootstrap',
    '--variant=minbase',
    `--include=${INCLUDES.join(',')}`,
    SUITE,
    BASE_BUILD_DIR,
    MIRROR,
  ];
  const r = await run(argv, { allowFail: true, timeoutMs: 900_000 });
  await writeFile(logFile, `${r.stdout}\n${r.stderr}`);
  if (r.code !== 0) {
    // debootstrap's own log inside the target says which package failed.
    const inner = await readFile(join(BASE_BUILD_DIR, 'debootstrap/debootstrap.log'), 'utf8').catch(() => '');
    await removeTree(BASE_BUILD_DIR); // also unmounts its /proc if it died mid-way
    throw new Error(
      `debootstrap failed (exit ${r.code}); full output in ${logFile}\n${tail(`${r.stderr}\n${inner}`.trim(), 25)}`,
    );
  }
  try {
    await configureBase(BASE_BUILD_DIR, publicKey);
  } catch (err) {
    await removeTree(BASE_BUILD_DIR);
    throw new Error(`configuring the new base rootfs failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  await writeFile(
    join(BASE_BUILD_DIR, '.mxplay-lab-base.json'),
    `${JSON.stringify({ recipe, builtAt: new Date().toISOString(), suite: SUITE, includes: INCLUDES }, null, 2)}\n`,
  );
  await removeTree(BASE_DIR);
  await rename(BASE_BUILD_DIR, BASE_DIR);
}

