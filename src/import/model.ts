// What the import reads on a host (the JSON READ_HOST_PY prints) and what it makes of it.

export interface SynapseFile {
  path: string;
  data: Record<string, unknown>;
}

export interface HostSnapshot {
  packages: Record<string, boolean>;
  synapse?: { files: SynapseFile[]; merged: Record<string, unknown>; workers: string[] } | { error: string };
  coturn?: { path: string; text: string };
  postgres?: { databases: PgDatabase[]; users: string[]; listen_addresses: string; hba: Record<string, unknown>[] } | { error: string };
  nginx?: {
    dump: string;
    ok: boolean;
    err: string;
    wellKnown: Record<string, Record<string, { status: number; body: string } | { error: string }>>;
    links: Record<string, string>;
  };
}

export interface PgDatabase {
  name: string;
  owner: string;
  encoding: string;
  lc_collate: string;
  lc_ctype: string;
}

/**
 * A secret found on the host, in the vars tree where its value goes. Written as a vault value or
 * an !env reference, never in clear; `from` says where it was read (file and key), not the value.
 */
export class FoundSecret {
  constructor(
    /** undefined: not readable on the host (a hash only); the user gives it. */
    readonly value: string | undefined,
    readonly from: string,
  ) {}
}

/** A setting no role variable covers, kept through an escape hatch (or left where it is). */
export interface Kept {
  file: string;
  key?: string;
  line?: number;
  via: string;
}

/** What the import could not keep: the user decides. */
export interface NotImported {
  file: string;
  key?: string;
  line?: number;
  why: string;
}

/** One role's share of the import. */
export interface RoleImport {
  role: string;
  vars: Record<string, unknown>;
  kept: Kept[];
  notImported: NotImported[];
  /** Hand-written files the role's own files replace: removed by the first run, in the same checked change. */
  replacedFiles: string[];
}

export const emptyImport = (role: string): RoleImport => ({ role, vars: {}, kept: [], notImported: [], replacedFiles: [] });

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
