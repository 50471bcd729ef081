import type { z } from 'zod';
import type { Resource, Task } from '../resources/types.ts';
import type { Check } from '../verify/check.ts';

/** What a role's tasks can know besides its own vars. */
export interface TaskContext {
  host: string;
  /** Every merged variable of the host (read-only; a role's own vars come typed as the first argument). */
  hostVars: Readonly<Record<string, unknown>>;
  /**
   * A stable secret for this purpose, derived from the inventory's mxplay_master_secret. With a
   * scope (an inventory host), the secret that host derives for the same purpose: hosts that serve
   * one homeserver share its main host's secrets, and a single host keeps the ones it already has.
   */
  derivedSecret(purpose: string, scope?: string): string;
  /** Names of every host of the inventory. */
  inventoryHosts: readonly string[];
  /**
   * Another inventory host's variables as Ansible's `hostvars` shows them (its inventory variables
   * and -e, templates evaluated; not play or role vars): undefined for a host not in the inventory.
   */
  inventoryVars(host: string): Readonly<Record<string, unknown>> | undefined;
  /**
   * What every role this host plays in this playbook serves to other hosts (all plays that include
   * it, whatever --tags or --skip-tags select: a tag must never close a port), for the firewall.
   */
  servedPorts: readonly HostServedPort[];
}

/** A port (or an inclusive range "from-to") a role serves beyond the host itself. */
export interface ServedPort {
  protocol: 'tcp' | 'udp';
  port: number | readonly [number, number];
  /** A few words on what answers there, shown in the firewall's ruleset. */
  why: string;
}

export interface HostServedPort extends ServedPort {
  role: string;
}

export type VarsSchema = z.ZodObject<any>;

export interface RoleDefinition<S extends VarsSchema = VarsSchema> {
  name: string;
  description?: string;
  vars: S;
  tasks: (v: z.output<S>, ctx: TaskContext) => Task[];
  /**
   * Tasks run once every role of the play has run its tasks (in role order): what must see the
   * whole configuration, such as starting a service that other roles add config to.
   */
  atPlayEnd?: (v: z.output<S>, ctx: TaskContext) => Task[];
  /** Handler name → action; any role's resources may notify it. */
  handlers?: Record<string, Resource> | ((v: z.output<S>, ctx: TaskContext) => Record<string, Resource>);
  /** How the role's service is checked from outside, by `mxplay verify` (and `run --verify`). */
  verify?: (v: z.output<S>, ctx: TaskContext) => Check[];
  /** What the role serves to other hosts (the firewall role opens these); omit for none. */
  ports?: (v: z.output<S>, ctx: Omit<TaskContext, 'servedPorts'>) => ServedPort[];
}

export function defineRole<S extends VarsSchema>(def: RoleDefinition<S>): RoleDefinition<S> {
  return def;
}
