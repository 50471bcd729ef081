import { stdout } from 'node:process';
import { describeVars, roleDocText, type RoleDoc } from '../roles/docs.ts';
import { availableRoles, loadRole, roleSearchPath } from '../roles/loader.ts';

/** The documentation of the named role (or of every role), from each role's schema. */
export async function roleDocs(name: string | undefined, path = roleSearchPath()): Promise<RoleDoc[]> {
  const names = name ? [name] : availableRoles(path);
  const docs: RoleDoc[] = [];
  for (const n of names) {
    const { def, dir } = await loadRole(n, path);
    docs.push({ name: def.name, description: def.description ?? '', dir, vars: describeVars(def.vars) });
  }
  return docs;
}

/**
 * `mxplay roles`: every role with its description; `mxplay roles NAME`: that role's variables, with
 * the keys nested in them, their types, defaults, secret marks and descriptions. `--json` gives
 * the same as data (every role's variables when no name is given).
 */
export async function rolesCommand(a: { name?: string; json: boolean }): Promise<number> {
  const docs = await roleDocs(a.name);
  if (a.json) {
    stdout.write(JSON.stringify(docs, null, 2) + '\n');
    return 0;
  }
  if (a.name) {
    stdout.write(docs.map(roleDocText).join('\n'));
    return 0;
  }
  for (const d of docs) stdout.write(`${d.name}${d.description ? ` — ${d.description}` : ''}\n`);
  stdout.write('\nmxplay roles NAME: the variables of one role (types, defaults, secrets, nested keys).\n');
  return 0;
}
