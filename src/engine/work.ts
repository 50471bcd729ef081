import type { Host } from '../inventory/inventory.ts';
import type { Play } from '../playbook/playbook.ts';
import type { Resource } from '../resources/types.ts';
import type { ConnectionParams } from '../transport/connection.ts';
import type { HostCheck } from '../verify/check.ts';
import type { ResolveMode } from '../verify/resolve.ts';

/** One resource of a host's run, with where it came from. */
export interface WorkItem {
  play: number;
  role: string; // role name, or 'tasks' for a play's inline tasks
  resource: Resource;
  /** Line of the playbook an inline task is written on. */
  line?: number;
}

export interface PlayWork {
  play: Play;
  items: WorkItem[];
  handlers: Map<string, Resource>;
  /** The play's roles' checks from outside (mxplay verify). */
  checks?: HostCheck[];
}

/** How `mxplay verify` reaches a host's names (mxplay_verify_resolve, mxplay_verify_ca_file). */
export interface VerifySettings {
  resolve: ResolveMode;
  caFile?: string;
}

/** Everything one host must converge, built before any connection is made. */
export interface HostWork {
  host: Host;
  params: ConnectionParams;
  plays: PlayWork[];
  /** Unset: names through DNS, Node's CAs. */
  verify?: VerifySettings;
}

export const label = (r: Resource) => `${r.type} ${r.id}`;

export function allItems(w: HostWork): WorkItem[] {
  return w.plays.flatMap((p) => p.items);
}
