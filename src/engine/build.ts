import { suggest, UserError, UserErrors } from '../errors.ts';
import type { Inventory } from '../inventory/inventory.ts';
import { matchHosts, requireHosts } from '../inventory/patterns.ts';
import type { Play, Playbook } from '../playbook/playbook.ts';
import { inlineTaskTypes } from '../playbook/inline-tasks.ts';
import { availableRoles, loadRole, roleSearchPath, type LoadedRole } from '../roles/loader.ts';
import type { TaskContext } from '../roles/define.ts';
import { fixedLayer, hostLayer, mergeLayers, schemaKeys, unknownKeyErrors, validateRoleVars, type ExtraVarsLayer, type VarLayer } from '../roles/vars.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { collectSecrets, deriveSecret } from '../secrets/secrets.ts';
import type { PendingResource, Resource, RoleContext, Task } from '../resources/types.ts';
import { connectionParams, type ConnectionDefaults } from '../transport/params.ts';
import type { HostWork, PlayWork, WorkItem } from './work.ts';

export interface BuildOptions {
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars: ExtraVarsLayer;
  connection?: ConnectionDefaults;
  /** The run's secrets: every secret value the build meets is added here. */
  secrets: SecretRegistry;
}

function flatten(tasks: Task[], ctx: RoleContext, out: Resource[] = []): Resource[] {
  for (const t of tasks) {
    if (!t) continue;
    if (Array.isArray(t)) flatten(t, ctx, out);
    else if ('prepare' in t) flatten([(t as PendingResource).prepare(ctx)].flat(), ctx, out);
    else out.push(t as Resource);
  }
  return out;
}

function selected(tags: string[], o: BuildOptions): boolean {
  if (o.skipTags?.some((t) => tags.includes(t))) return false;
  if (o.tags?.length) return o.tags.some((t) => tags.includes(t) || t === 'all');
  return true;
}

/**
 * Turn playbook + inventory into each host's ordered resources. Pure of any connection: all input
 * errors (unknown roles, vars, hosts) are found here, together, before any host is touched.
 */
export async function buildWork(pb: Playbook, inv: Inventory, o: BuildOptions): Promise<HostWork[]> {
  const errors: UserError[] = [];
  // Values read from secret sources (!env, !file, !command) are secrets wherever they are used.
  for (const v of [...inv.secretValues, ...pb.secretValues, ...o.extraVars.secretValues]) o.secrets.add(v);
  const searchPath = roleSearchPath(pb.dir);
  const roles = new Map<string, LoadedRole>();
  for (const play of pb.plays) {
    for (const entry of play.roles) {
      if (roles.has(entry.role)) continue;
      try {
        roles.set(entry.role, await loadRole(entry.role, searchPath));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        errors.push(new UserError(e.message, { ...e.context, file: pb.file, line: entry.line }));
      }
    }
  }
  if (errors.length) throw new UserErrors(errors);

  // A variable is known if any role could use it: the playbook's roles, or any other available one
  // (an inventory often serves several playbooks). Other roles are loaded only to clear a key the
  // playbook's roles do not know: loading them all costs more than a whole no-op run's probe.
  const known = new Set<string>();
  for (const r of roles.values()) schemaKeys(r.def.vars).forEach((k) => known.add(k));
  const limit = o.limit ? new Set(requireHosts(inv, o.limit, '--limit')) : undefined;
  const works = new Map<string, HostWork>();
  const layerChecks = new Map<string, { layer: VarLayer; ctx: { host?: string; role?: string }; keys?: Set<string> }>();
  const checkLayer = (id: string, layer: VarLayer, ctx: { host?: string; role?: string }, keys?: Set<string>) => {
    if (!layerChecks.has(id)) layerChecks.set(id, { layer, ctx, ...(keys ? { keys } : {}) });
  };
  checkLayer('extra', o.extraVars, {});

  let matchedAny = false;
  for (const play of pb.plays) {
    const hosts = matchHosts(inv, play.hosts).filter((h) => !limit || limit.has(h));
    if (!hosts.length) continue;
    matchedAny = true;
    const playLayer = fixedLayer(play.vars, pb.file, play.line, `play vars (${play.name})`);
    checkLayer(`play${play.index}`, playLayer, {});
    for (const name of hosts) {
      const host = inv.hosts.get(name)!;
      const hl = hostLayer(host);
      checkLayer(`host:${name}`, hl, { host: name });
      let work = works.get(name);
      if (!work) {
        try {
          const params = connectionParams(host, { ...o.connection, ...(play.become !== undefined ? { become: play.become } : {}) });
          works.set(name, (work = { host, params, plays: [] }));
        } catch (e) {
          if (e instanceof UserError) { errors.push(e); continue; }
          throw e;
        }
      }
      const merged = mergeLayers([hl, playLayer, o.extraVars]);
      if (typeof merged.values.mxplay_master_secret === 'string') o.secrets.add(merged.values.mxplay_master_secret);
      work.plays.push(buildPlay(play, name, merged, roles, o, errors, checkLayer, pb.file));
    }
  }
  const unknownKeys = () => [...layerChecks.values()].flatMap((c) => unknownKeyErrors(c.layer, c.keys ?? known, c.ctx));
  let unknown = unknownKeys();
  if (unknown.length) {
    for (const name of availableRoles(searchPath)) {
      if (roles.has(name)) continue;
      try {
        schemaKeys((await loadRole(name, searchPath)).def.vars).forEach((k) => known.add(k));
      } catch {
        /* a broken unused role must not block this run */
      }
    }
    unknown = unknownKeys();
  }
  errors.push(...unknown);
  if (!matchedAny) errors.push(noHostsError(pb, inv, o.limit));
  if (errors.length) throw new UserErrors(errors);
  return [...works.values()];
}

/** Which patterns matched nothing, where, and what the inventory has instead (a typo is the usual cause). */
function noHostsError(pb: Playbook, inv: Inventory, limit: string | undefined): UserError {
  const names = [...inv.groups.keys(), ...inv.hosts.keys()];
  const one = pb.plays.length === 1;
  const patterns = pb.plays.map((p) => {
    const hint = suggest(p.hosts, names);
    return `'${p.hosts}'${!one && p.line ? ` (line ${p.line})` : ''}${hint && hint !== p.hosts ? `, did you mean ${hint}?` : ''}`;
  });
  return new UserError(
    `no play matches any host${limit ? ` within --limit ${limit}` : ''}: hosts ${patterns.join('; ')} ` +
      `(inventory hosts: ${[...inv.hosts.keys()].join(', ') || 'none'}; groups: ${[...inv.groups.keys()].join(', ')})`,
    { file: pb.file, ...(one && pb.plays[0]!.line ? { line: pb.plays[0]!.line } : {}) },
  );
}

function buildPlay(
  play: Play,
  hostName: string,
  merged: ReturnType<typeof mergeLayers>,
  roles: Map<string, LoadedRole>,
  o: BuildOptions,
  errors: UserError[],
  checkLayer: (id: string, layer: VarLayer, ctx: { host?: string; role?: string }, keys?: Set<string>) => void,
  file: string,
): PlayWork {
  const items: WorkItem[] = [];
  // Roles' end-of-play tasks, after every role's and the play's own tasks.
  const playEnd: WorkItem[] = [];
  const handlers = new Map<string, import('../resources/types.ts').Resource>();
  const ctxFor = (role: string): TaskContext => ({
    host: hostName,
    hostVars: merged.values,
    derivedSecret(purpose) {
      const master = merged.values.mxplay_master_secret;
      if (typeof master !== 'string' || master.length < 16) {
        throw new UserError(`needs a secret for '${purpose}': set that variable, or mxplay_master_secret (16+ characters) to derive it`, { host: hostName, role, key: 'mxplay_master_secret' });
      }
      return o.secrets.add(deriveSecret(master, `${hostName}:${purpose}`));
    },
  });

  for (const entry of play.roles) {
    const loaded = roles.get(entry.role)!;
    const def = loaded.def;
    const entryLayer = fixedLayer(entry.vars, file, entry.line, `role vars (${entry.role})`);
    checkLayer(`play${play.index}:role${entry.role}:${entry.line}`, entryLayer, { role: entry.role }, new Set(schemaKeys(def.vars)));
    const roleMerged = mergeLayers([
      { values: merged.values, origin: (k) => merged.origin(k)! },
      entryLayer,
      o.extraVars,
    ]);
    const v = validateRoleVars(def.vars, roleMerged, { host: hostName, role: entry.role });
    if (!v.ok) {
      errors.push(...v.errors);
      continue;
    }
    collectSecrets(def.vars, v.vars, o.secrets);
    const tags = [entry.role, ...entry.tags, ...play.tags];
    try {
      const ctx = ctxFor(entry.role);
      const roleCtx: RoleContext = { roleName: entry.role, roleDir: loaded.dir, hostName, vars: v.vars as Record<string, unknown> };
      const add = (to: WorkItem[], tasks: Task[]) => {
        for (const r of flatten(tasks, roleCtx)) {
          const all = [...tags, ...r.tags];
          if (selected(all, o) || r.marker) to.push({ play: play.index, role: entry.role, resource: { ...r, tags: all } });
        }
      };
      add(items, def.tasks(v.vars, ctx));
      if (def.atPlayEnd) add(playEnd, def.atPlayEnd(v.vars, ctx));
      const hs = typeof def.handlers === 'function' ? def.handlers(v.vars, ctx) : (def.handlers ?? {});
      for (const [n, h] of Object.entries(hs)) if (!handlers.has(n)) handlers.set(n, h);
    } catch (e) {
      if (e instanceof UserError) errors.push(new UserError(e.message, { host: hostName, role: entry.role, ...e.context }));
      else errors.push(new UserError(`role failed to build its tasks: ${(e as Error).message}`, { host: hostName, role: entry.role }));
    }
  }
  for (const t of play.tasks) {
    const r = inlineTaskTypes[t.type].make(t.options);
    const all = [...play.tags, ...r.tags];
    if (selected(all, o)) items.push({ play: play.index, role: 'tasks', resource: { ...r, tags: all } });
  }
  items.push(...playEnd);
  for (const t of play.handlers) {
    if (!t.name) {
      errors.push(new UserError('a handler needs a name (what notify refers to)', { file, line: t.line }));
      continue;
    }
    handlers.set(t.name, inlineTaskTypes[t.type].make(t.options));
  }
  // A notify that names no handler is a typo that would silently never restart anything.
  for (const it of items) {
    for (const n of it.resource.notify) {
      if (!handlers.has(n)) {
        errors.push(new UserError(`${it.resource.type} ${it.resource.id} notifies '${n}', which no role or play defines`, { host: hostName, role: it.role, file }));
      }
    }
  }
  return { play, items, handlers };
}
