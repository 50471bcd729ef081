import { suggest, UserError, UserErrors } from '../errors.ts';
import type { Inventory } from '../inventory/inventory.ts';
import { matchHosts, requireHosts } from '../inventory/patterns.ts';
import type { Play, Playbook } from '../playbook/playbook.ts';
import { inlineHandlerResource, inlineTaskResources } from '../playbook/inline-tasks.ts';
import { availableRoles, loadRole, roleSearchPath, type LoadedRole } from '../roles/loader.ts';
import type { HostServedPort, TaskContext } from '../roles/define.ts';
import { fixedLayer, hostLayer, isReservedVar, mergeLayers, schemaKeys, unknownKeyErrors, validateRoleVars, type ExtraVarsLayer, type VarLayer } from '../roles/vars.ts';
import type { SecretRegistry } from '../secrets/registry.ts';
import { collectSecrets, deriveSecret } from '../secrets/secrets.ts';
import type { PendingResource, Resource, RoleContext, Task } from '../resources/types.ts';
import { connectionParams, type ConnectionDefaults } from '../transport/params.ts';
import type { ConnectionParams } from '../transport/connection.ts';
import { templateVars, TemplateWorld } from '../vars/template-vars.ts';
import { boundHeapFor } from './heap.ts';
import { snippetErrors } from './shell-check.ts';
import { servedPortsOf } from './ports.ts';
import type { HostCheck } from '../verify/check.ts';
import type { HostWork, PlayWork, VerifySettings, WorkItem } from './work.ts';

export interface BuildOptions {
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars: ExtraVarsLayer;
  connection?: ConnectionDefaults;
  /** The run's secrets: every secret value the build meets is added here. */
  secrets: SecretRegistry;
  /** Told each host's connection as soon as it is known, while the rest is still being built (buildRun begins connecting to the first hosts then; none logs in before the build is done). */
  connectionKnown?: (params: ConnectionParams) => void;
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

/** A resource's tags after its play's or role's: no new list when either is empty (none is ever changed). */
const joined = (outer: string[], own: string[]): string[] => (!own.length ? outer : !outer.length ? own : [...outer, ...own]);

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
  // Jinja in variables: evaluated per host before validation, seeing the final merged values (-e too).
  const literals = new Set([...inv.secretValues, ...pb.secretValues, ...o.extraVars.secretValues, ...(inv.literalValues ?? []), ...(pb.literalValues ?? []), ...(o.extraVars.literalValues ?? [])]);
  const world = new TemplateWorld(inv, (h) => (inv.hosts.has(h) ? mergeLayers([hostLayer(inv.hosts.get(h)!), o.extraVars]) : undefined), o.secrets, pb.dir, literals);
  const limit = o.limit ? new Set(requireHosts(inv, o.limit, '--limit')) : undefined;
  const works = new Map<string, HostWork>();

  // Each host's connection first, as its first play sees it: known before the roles load, what this
  // machine can prepare for it (its ssh_config) is begun meanwhile (connectionKnown), unless an input
  // error is known already.
  const connectionErrors: UserError[] = [];
  const seen = new Set<string>();
  for (const play of pb.plays) {
    for (const name of matchHosts(inv, play.hosts).filter((h) => !limit || limit.has(h))) {
      if (seen.has(name)) continue;
      seen.add(name);
      const host = inv.hosts.get(name)!;
      try {
        // Connection variables (ansible_host: "{{ … }}") are templated too, with -e in sight.
        const hv = templateVars(mergeLayers([hostLayer(host), o.extraVars]), world, name, connectionErrors, isReservedVar).values;
        const templated = { ...host, vars: Object.fromEntries(Object.keys(host.vars).map((k) => [k, hv[k]])) };
        const params = connectionParams(templated, { ...o.connection, ...(play.become !== undefined ? { become: play.become } : {}) });
        works.set(name, { host, params, plays: [], verify: verifySettings(hv) });
        if (!connectionErrors.length) o.connectionKnown?.(params);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        connectionErrors.push(e);
      }
    }
  }

  boundHeapFor(works.size);

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
  if (errors.length) throw new UserErrors([...connectionErrors, ...errors]);
  errors.push(...connectionErrors);

  // A variable is known if any role could use it: the playbook's roles, or any other available one
  // (an inventory often serves several playbooks). Other roles are loaded only to clear a key the
  // playbook's roles do not know: loading them all costs more than a whole no-op run's probe.
  const known = new Set<string>();
  for (const r of roles.values()) schemaKeys(r.def.vars).forEach((k) => known.add(k));
  const layerChecks = new Map<string, { layer: VarLayer; ctx: { host?: string; role?: string }; keys?: Set<string> }>();
  const checkLayer = (id: string, layer: VarLayer, ctx: { host?: string; role?: string }, keys?: Set<string>) => {
    if (!layerChecks.has(id)) layerChecks.set(id, { layer, ctx, ...(keys ? { keys } : {}) });
  };
  checkLayer('extra', o.extraVars, {});

  // Ports are the host's whole part in the playbook, read (once, when a role asks) over all its plays.
  const served = new Map<string, HostServedPort[]>();
  const servedFor = (name: string, merged: (play: Play) => ReturnType<typeof mergeLayers>) => {
    if (!served.has(name)) {
      const plays = pb.plays.filter((p) => matchHosts(inv, p.hosts).includes(name));
      served.set(name, servedPortsOf(plays, roles, merged, (play, entry, m) => {
        const scratch: UserError[] = []; // its mistakes are reported once, by buildPlay
        const raw = mergeLayers([{ values: m.values, origin: (k) => m.origin(k)! }, fixedLayer(entry.vars, pb.file, entry.line, `role vars (${entry.role})`), o.extraVars]);
        const v = validateRoleVars(roles.get(entry.role)!.def.vars, templateVars(raw, world, name, scratch), { host: name, role: entry.role });
        return v.ok && !scratch.length ? { vars: v.vars, ctx: taskContext(name, templateVars(m, world, name, scratch).values, o, world, entry.role) } : undefined;
      }));
    }
    return served.get(name)!;
  };

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
      const work = works.get(name);
      if (!work) continue; // its connection is in error (connectionErrors)
      const merged = mergeLayers([hl, playLayer, o.extraVars]);
      const master = templateVars(merged, world, name, errors).values.mxplay_master_secret;
      if (typeof master === 'string') o.secrets.add(master);
      const ports = () => servedFor(name, (p) => mergeLayers([hl, fixedLayer(p.vars, pb.file, p.line, `play vars (${p.name})`), o.extraVars]));
      work.plays.push(buildPlay(play, name, merged, roles, o, errors, checkLayer, pb.file, world, ports));
    }
  }
  // A variable a template reads is used, even if no role knows it (domain: in "{{ x }}.{{ domain }}").
  for (const n of world.readNames) known.add(n);
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
  for (const w of works.values()) errors.push(...notifyErrors(w, pb.file));
  // Shell that would not parse on the hosts is an input error too, found before connecting.
  errors.push(...(await snippetErrors([...works.values()], pb.file)));
  // A template's result made from a secret (known now that roles' secret() values are) is one too.
  world.registerDerived();
  if (errors.length) throw new UserErrors(errors);
  return [...works.values()];
}

/** Which patterns matched nothing, where, and what the inventory has instead (a typo is the usual cause). */
/** mxplay_verify_* of a host (values checked when the inventory was read). */
function verifySettings(vars: Record<string, unknown>): VerifySettings {
  const caFile = vars.mxplay_verify_ca_file;
  return {
    resolve: vars.mxplay_verify_resolve === 'inventory' ? 'inventory' : 'dns',
    ...(typeof caFile === 'string' && caFile ? { caFile } : {}),
  };
}

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
  world: TemplateWorld,
  servedPorts: () => HostServedPort[],
): PlayWork {
  const hostValues = templateVars(merged, world, hostName, errors).values;
  const items: WorkItem[] = [];
  // Roles' end-of-play tasks, after every role's and the play's own tasks.
  const playEnd: WorkItem[] = [];
  const handlers = new Map<string, import('../resources/types.ts').Resource>();
  const checks: HostCheck[] = [];
  // servedPorts is read on demand: only a role that asks (the firewall) pays for going over every play.
  const ctxFor = (role: string): TaskContext =>
    Object.defineProperty(taskContext(hostName, hostValues, o, world, role), 'servedPorts', { get: servedPorts, enumerable: true }) as TaskContext;

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
    const v = validateRoleVars(def.vars, templateVars(roleMerged, world, hostName, errors), { host: hostName, role: entry.role });
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
          const all = joined(tags, r.tags);
          if (selected(all, o) || r.marker) to.push({ play: play.index, role: entry.role, resource: { ...r, tags: all } });
        }
      };
      add(items, def.tasks(v.vars, ctx));
      if (def.atPlayEnd) add(playEnd, def.atPlayEnd(v.vars, ctx));
      const hs = typeof def.handlers === 'function' ? def.handlers(v.vars, ctx) : (def.handlers ?? {});
      for (const [n, h] of Object.entries(hs)) if (!handlers.has(n)) handlers.set(n, h);
      if (def.verify) checks.push(...def.verify(v.vars, ctx).map((c) => ({ ...c, role: entry.role, selected: selected(tags, o) })));
    } catch (e) {
      // One mistake seen by several hosts (a homeserver's topology) is reported once.
      const err = e instanceof UserError ? new UserError(e.message, { host: hostName, role: entry.role, ...e.context }) : undefined;
      if (err) { if (!errors.some((x) => x.toString() === err.toString())) errors.push(err); }
      else errors.push(new UserError(`role failed to build its tasks: ${(e as Error).message}`, { host: hostName, role: entry.role }));
    }
  }
  // Inline tasks are built per host: a template renders with this host's variables.
  const inline = { host: hostName, vars: hostValues, secrets: o.secrets, used: (n: string) => world.readNames.add(n) };
  for (const t of play.tasks) {
    try {
      for (const r of inlineTaskResources(t, inline)) {
        const all = joined(play.tags, r.tags);
        if (selected(all, o) || r.marker) items.push({ play: play.index, role: 'tasks', resource: { ...r, tags: all }, ...(t.line !== undefined ? { line: t.line } : {}) });
      }
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      errors.push(e);
    }
  }
  items.push(...playEnd);
  for (const t of play.handlers) {
    if (!t.name) {
      errors.push(new UserError('a handler needs a name (what notify refers to)', { file, line: t.line }));
      continue;
    }
    try {
      handlers.set(t.name, inlineHandlerResource(t, inline));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      errors.push(e);
    }
  }
  return { play, items, handlers, checks };
}

/** What a role's tasks know of the host and the inventory, besides its vars. */
function taskContext(hostName: string, hostValues: Record<string, unknown>, o: BuildOptions, world: TemplateWorld, role: string): Omit<TaskContext, 'servedPorts'> {
  return {
    host: hostName,
    hostVars: hostValues,
    derivedSecret(purpose, scope = hostName) {
      const master = hostValues.mxplay_master_secret;
      if (typeof master !== 'string' || master.length < 16) {
        throw new UserError(`needs a secret for '${purpose}': set that variable, or mxplay_master_secret (16+ characters) to derive it`, { host: hostName, role, key: 'mxplay_master_secret' });
      }
      // Shared with another host: only if both derive from the same master secret.
      const other = scope === hostName ? undefined : world.hostValues(scope);
      if (scope !== hostName && other?.mxplay_master_secret !== master) {
        throw new UserError(
          `'${purpose}' is shared with host ${scope}, whose mxplay_master_secret ${other ? 'differs from' : 'is not'} this host's: ` +
            'set mxplay_master_secret once for every host of the homeserver (a group variable), or set the secret itself',
          { host: hostName, role, key: 'mxplay_master_secret' },
        );
      }
      return o.secrets.add(deriveSecret(master, `${scope}:${purpose}`));
    },
    inventoryHosts: [...world.inventory.hosts.keys()],
    inventoryVars: (h) => world.hostValues(h),
  };
}

/**
 * Every notify of a host's plays must name a handler that will run: one of its own play, or of a
 * later play of the same host. The second works, rather than being refused, because a multi-play
 * deployment needs it (a CA trusted in one play must restart Synapse, whose handler belongs to the
 * synapse role of a later play) and the engine already carries it safely: the notification is
 * recorded on the host as soon as the change succeeds, kept by the host's run across plays, and
 * fired once, at the end of the first later play that defines the handler (or at its
 * flush_handlers), exactly as a notification left pending by an earlier run is. A handler that only
 * an earlier play defines has had its turn by then: refused, saying so. A name no play defines is
 * a typo that would silently never restart anything: refused.
 */
export function notifyErrors(w: HostWork, file: string): UserError[] {
  const errors: UserError[] = [];
  w.plays.forEach((pw, i) => {
    for (const it of pw.items) {
      for (const n of it.resource.notify) {
        if (w.plays.slice(i).some((p) => p.handlers.has(n))) continue;
        const earlier = w.plays.slice(0, i).find((p) => p.handlers.has(n));
        const ctx = { host: w.host.name, ...(it.role !== 'tasks' ? { role: it.role } : {}), file, ...(it.line !== undefined ? { line: it.line } : {}) };
        errors.push(
          new UserError(
            earlier
              ? `${it.resource.type} ${it.resource.id} notifies '${n}', which only an earlier play ("${earlier.play.name}") defines: ` +
                  'handlers run at the end of the play that defines them, so it would never run; define it in this play or a later one'
              : `${it.resource.type} ${it.resource.id} notifies '${n}', which no role or play defines`,
            ctx,
          ),
        );
      }
    }
  });
  return errors;
}
