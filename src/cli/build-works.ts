import { buildWork } from '../engine/build.ts';
import { loadInventory } from '../inventory/inventory.ts';
import { loadPlaybook } from '../playbook/playbook.ts';
import { parseExtraVars } from '../roles/vars.ts';
import type { ConnectionParams } from '../transport/connection.ts';
import type { ConnectionDefaults } from '../transport/params.ts';
import type { Built, RunInputs } from './run.ts';

/**
 * Playbook + inventory + options → each host's resources; every input error before any connection.
 * `connection` (ssh defaults from the command line, which may ask for a password) is read after the
 * inputs, so a typo in them is reported before any prompt.
 */
export async function buildWorks(
  a: RunInputs,
  connection: () => Promise<ConnectionDefaults> = async () => ({}),
  connectionKnown?: (params: ConnectionParams) => void,
): Promise<Omit<Built, 'secrets'>> {
  const inventory = loadInventory(a.inventory);
  const playbook = loadPlaybook(a.playbook);
  const defaults = await connection();
  const works = await buildWork(playbook, inventory, {
    extraVars: parseExtraVars(a.extraVars),
    secrets: a.secrets,
    ...(a.limit ? { limit: a.limit } : {}),
    ...(a.tags ? { tags: a.tags } : {}),
    ...(a.skipTags ? { skipTags: a.skipTags } : {}),
    ...(Object.keys(defaults).length ? { connection: defaults } : {}),
    ...(connectionKnown ? { connectionKnown } : {}),
  });
  return { playbook, inventory, works };
}
