import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import {
  apt, aptSource, command, debconf, directory, dockerCompose, file, flushHandlers, group, link,
  postgresDatabase, postgresRole, postgresSetting, release, service, user, yamlFile,
} from '../resources/index.ts';
import { isUrl, VERSION_RE } from '../resources/release.ts';
import { renderTemplate } from '../resources/template.ts';
import type { Resource } from '../resources/types.ts';
import { looksSecret, secret } from '../secrets/secrets.ts';

// Resource types usable as plain YAML tasks (and handlers) of a play: each resource of the role API
// (src/resources/index.ts), named as there in snake_case (aptSource → apt_source), with its options
// under the same names. Each schema is strict: an unknown key is an error naming it. What needs
// the playbook's folder (a template, a key file, a local tarball) is checked when the playbook is
// loaded; what needs the host (a template's variables) when the host's work is built.

/** What building an inline task for one host knows. */
export interface InlineTaskContext {
  /** The inventory host the task is built for. */
  host: string;
  /** The host's variables (inventory, play vars, -e; Jinja evaluated): what an inline template sees. */
  vars: Readonly<Record<string, unknown>>;
  /** The run's secret registry: values a template may carry are registered there. */
  secrets?: { add(value: string): string };
  /**
   * Told each host variable an inline template reads: a variable only such a template uses is a
   * used variable (as one a Jinja value reads), not an unknown one.
   */
  used?: (name: string) => void;
}

/** A problem with one option of a task, found once the schema passed (a missing file, ...). */
export class InlineOptionError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

interface Loaded<O> {
  options: O;
  /** Files of the control machine the task reads (templates, key files): inputs of a saved plan. */
  files?: string[];
}

interface InlineTypeSpec<S extends z.ZodType> {
  schema: S;
  /** Checks and paths that need the playbook's folder; throws InlineOptionError. */
  load?: (o: z.output<S>, dir: string) => Loaded<z.output<S>>;
  /** Values of the options that are secrets (registered for the run, masked everywhere). */
  secrets?: (o: z.output<S>) => (string | undefined)[];
  /** The resources of one task on one host. */
  build: (o: z.output<S>, ctx: InlineTaskContext) => Resource[];
  /** Built only with the host's variables (a template): never without a context. */
  needsHost?: boolean;
  /** Why it cannot be a handler (a handler is one action that notify names). */
  notHandler?: string;
}

/** An inline resource type. */
export type InlineType<S extends z.ZodType = z.ZodType> = InlineTypeSpec<S>;

/**
 * Keeps each type's option schema for its build function's parameter. The schema is built when a
 * task of the type is first read: building all of them cost every start a few milliseconds.
 */
function spec<S extends z.ZodType>(s: Omit<InlineTypeSpec<S>, 'schema'> & { schema: () => S }): InlineType<S> {
  let built: S | undefined;
  return { ...s, get schema() { return (built ??= s.schema()); } };
}

// ---- option schemas (each a function: built only for the types used) -----------------------

const noValidate = () => ({
  notify: z.union([z.string(), z.array(z.string())]).optional(),
  tags: z.array(z.string()).optional(),
});
const common = () => ({ ...noValidate(), validate: z.string().optional() });
const mode = () => z.union(
  [z.number().int(), z.string().regex(/^0?[0-7]{3,4}$/).transform((s) => parseInt(s, 8))],
  { error: 'a file mode as an octal string, e.g. "0640"' },
);
const owned = () => ({ mode: mode().optional(), owner: z.string().optional(), group: z.string().optional() });
const presence = () => z.enum(['present', 'absent']).optional();
/** A path on the host: a relative one would depend on the shell's working folder. */
const hostPath = () => z.string().regex(/^\//, 'an absolute path on the host, like /etc/motd');
/** One line of a config file (apt's deb822, debconf's answers): a line break would start another. */
const oneLine = (what: string) => z.string().min(1).refine((s) => !/[\r\n]/.test(s), `${what} on one line (a line break would start another entry)`);
/** PostgreSQL names (roles, databases) are quoted as identifiers wherever mxplay uses them. */
const pgName = () => z.string().min(1).max(63, 'at most 63 characters (PostgreSQL cuts longer names)');
const readiness = () => z.strictObject({
  http: z.string().regex(/^https?:\/\//, 'an http(s) URL').optional(),
  tcp: z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/, 'host:port').optional(),
  active: z.boolean().optional(),
  timeout_s: z.number().int().positive().optional(),
});
const ARMOURED_KEY = /-----BEGIN PGP PUBLIC KEY BLOCK-----/;

/**
 * A file of the control machine a task names: relative to `base` (the playbook's folder, or its
 * templates/ folder), or absolute unless it must stay `inside` base (a template, as a role's stay
 * in the role's templates/ folder).
 */
function controlFile(at: { dir: string; base: string; inside?: boolean }, name: string, key: string, what: string): string {
  const where = at.base === at.dir ? "the playbook's folder" : `the playbook's ${relative(at.dir, at.base)}/ folder`;
  if (at.inside && isAbsolute(name)) throw new InlineOptionError(key, `${what} ${name}: give it relative to ${where}`);
  const path = resolve(at.base, name);
  const rel = relative(at.base, path);
  if (at.inside && (rel === '' || rel === '..' || rel.startsWith('..' + sep))) throw new InlineOptionError(key, `${what} ${name}: must be inside ${where}`);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InlineOptionError(key, `${what} not found: ${path}${isAbsolute(name) ? '' : ` (relative to ${where})`}`);
  }
  if (!st.isFile()) throw new InlineOptionError(key, `${what} ${path}: not a regular file`);
  return path;
}

// ---- the types ----------------------------------------------------------------------------

export const inlineTaskTypes = {
  file: spec({
    // sensitive: the content is secret as a whole (a key, a token file): plans show only that it changes.
    schema: () => z.strictObject({ path: hostPath(), content: z.string().optional(), sensitive: z.boolean().optional(), state: presence(), ...owned(), ...common() }),
    build: (o) => [file(o)],
  }),
  directory: spec({
    schema: () => z.strictObject({ path: hostPath(), state: presence(), ...owned(), ...common() }),
    build: (o) => [directory(o)],
  }),
  link: spec({
    schema: () => z.strictObject({ path: hostPath(), target: z.string().min(1), state: presence(), ...common() }),
    build: (o) => [link(o)],
  }),
  template: spec({
    // EJS, as a role's templates; src below the playbook's templates/ folder, as a role's below its own.
    schema: () => z.strictObject({
      path: hostPath(),
      src: z.string().min(1),
      data: z.record(z.string(), z.unknown()).optional(),
      sensitive: z.boolean().optional(),
      state: presence(),
      ...owned(),
      ...common(),
    }),
    load: (o, dir) => {
      const src = controlFile({ dir, base: join(dir, 'templates'), inside: true }, o.src, 'src', 'template');
      return { options: { ...o, src }, files: [src] };
    },
    needsHost: true,
    build: (o, ctx) => {
      const { src, data, ...rest } = o;
      const scope: Record<string, unknown> = { ...ctx.vars, host: ctx.host, ...data };
      // Which host variables the template reads (EJS looks every name up in its data).
      const reads = new Set<string>();
      const watched = new Proxy(scope, {
        get(target, k, receiver) {
          if (typeof k === 'string' && k in ctx.vars && k !== 'host' && !(data && k in data)) reads.add(k);
          return Reflect.get(target, k, receiver);
        },
      });
      const content = renderTemplate(src, watched, { roleName: 'tasks', roleDir: src, hostName: ctx.host, vars: scope });
      for (const k of reads) {
        ctx.used?.(k);
        // A variable named as a secret (db_password, api_token) is masked wherever the file shows.
        const v = ctx.vars[k];
        if (looksSecret(k) && typeof v === 'string') ctx.secrets?.add(v);
      }
      return [file({ ...rest, content, kind: 'template' })];
    },
  }),
  yaml_file: spec({
    schema: () => z.strictObject({
      path: hostPath(),
      data: z.unknown().refine((v) => v !== undefined, 'the data to write as YAML'),
      header: oneLine('a comment').optional(),
      sensitive: z.boolean().optional(),
      state: presence(),
      ...owned(),
      ...common(),
    }),
    build: (o) => [yamlFile(o)],
  }),
  apt: spec({
    schema: () => z.strictObject({
      names: z.union([z.string().min(1).transform((s) => [s]), z.array(z.string().min(1)).min(1)]),
      state: z.enum(['present', 'absent', 'latest']).optional(),
      target_release: z.string().min(1).optional(),
      install_recommends: z.boolean().optional(),
      no_start: z.boolean().optional(),
      ...common(),
    }),
    build: (o) => [apt(o)],
  }),
  apt_source: spec({
    // deb822 with its own keyring: the key as text (key) or a file next to the playbook (key_file).
    schema: () => z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a file stem of letters, digits and . _ - (it names /etc/apt/sources.list.d/<name>.sources)'),
      uris: oneLine('URIs'),
      suites: oneLine('suites'),
      components: oneLine('components'),
      architectures: oneLine('architectures').optional(),
      key: z.string().regex(ARMOURED_KEY, 'an ASCII-armoured public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)').optional(),
      key_file: z.string().min(1).optional(),
      state: presence(),
      ...noValidate(),
    }).superRefine((o, ctx) => {
      if (o.key !== undefined && o.key_file !== undefined) ctx.addIssue({ code: 'custom', path: ['key_file'], message: 'key or key_file, not both' });
      else if (o.key === undefined && o.key_file === undefined && o.state !== 'absent') {
        ctx.addIssue({ code: 'custom', path: ['key'], message: 'the signing key: key (ASCII-armoured text) or key_file (a file relative to the playbook)' });
      }
    }),
    load: (o, dir) => {
      if (o.key_file === undefined) return { options: o };
      const path = controlFile({ dir, base: dir }, o.key_file, 'key_file', 'key file');
      const key = readFileSync(path, 'utf8');
      if (!ARMOURED_KEY.test(key)) throw new InlineOptionError('key_file', `${path}: not an ASCII-armoured public key (gpg --armor --export)`);
      const { key_file: _, ...rest } = o;
      return { options: { ...rest, key }, files: [path] };
    },
    build: (o) => aptSource({ ...o, key: o.key ?? '' }),
    notHandler: 'apt_source is two files (the source and its key), not one action',
  }),
  debconf: spec({
    schema: () => z.strictObject({
      package: z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, 'a Debian package name'),
      question: z.string().regex(/^\S+$/, 'a debconf question name (no spaces)'),
      vtype: z.enum(['string', 'boolean', 'select', 'password', 'note', 'multiselect']),
      value: z.union([z.string(), z.boolean()]).refine((v) => typeof v !== 'string' || !/[\r\n]/.test(v), 'an answer on one line (debconf reads one answer per line)'),
      ...common(),
    }),
    secrets: (o) => [o.vtype === 'password' && typeof o.value === 'string' ? o.value : undefined],
    build: (o) => [debconf(o)],
  }),
  service: spec({
    schema: () => z.strictObject({
      name: z.string().min(1),
      enabled: z.boolean().optional(),
      state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
      ready: readiness().optional(),
      ...common(),
    }),
    // restarted/reloaded are actions (mostly for handlers): they change every time they run.
    build: ({ state, ...o }) => [
      state === 'restarted' ? service.restart(o.name, o.ready)
        : state === 'reloaded' ? service.reload(o.name, o.ready)
          : service({ ...o, ...(state ? { state } : {}) }),
    ],
  }),
  command: spec({
    schema: () => z.strictObject({ cmd: z.string().min(1), name: z.string().optional(), creates: z.string().optional(), unless: z.string().optional(), ...common() }),
    build: (o) => [command(o)],
  }),
  user: spec({
    schema: () => z.strictObject({
      name: z.string().min(1),
      system: z.boolean().optional(),
      home: z.string().optional(),
      shell: z.string().optional(),
      group: z.string().optional(),
      groups: z.array(z.string()).optional(),
      state: presence(),
      ...common(),
    }),
    build: (o) => [user(o)],
  }),
  group: spec({
    schema: () => z.strictObject({ name: z.string().min(1), system: z.boolean().optional(), state: presence(), ...common() }),
    build: (o) => [group(o)],
  }),
  release: spec({
    // source: an http(s) URL the host fetches, or a tarball relative to the playbook's folder (uploaded).
    schema: () => z.strictObject({
      dir: hostPath(),
      version: z.string().regex(VERSION_RE, 'a version of letters, digits and . _ + - (it names a folder)'),
      source: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the tarball\'s sha256: 64 lower-case hex digits'),
      keep: z.number().int().min(1).optional(),
      ...common(),
    }),
    load: (o, dir) => {
      const options = isUrl(o.source) ? o : { ...o, source: controlFile({ dir, base: dir }, o.source, 'source', 'tarball') };
      // The checksum of a local tarball is checked now, naming the key (release() caches it for the build).
      try {
        release({ ...options, keys: { source: 'source', sha256: 'sha256' } });
      } catch (e) {
        if (e instanceof UserError) throw new InlineOptionError(e.context.key ?? 'source', e.message);
        throw e;
      }
      return { options };
    },
    build: (o) => [release({ ...o, keys: { source: 'source', sha256: 'sha256' } })],
  }),
  docker_compose: spec({
    schema: () => z.strictObject({ dir: hostPath(), wait_timeout_s: z.number().int().positive().optional(), ...common() }),
    build: (o) => [dockerCompose(o)],
  }),
  postgres_role: spec({
    schema: () => z.strictObject({ name: pgName(), password: secret().optional(), state: presence(), ...common() }),
    secrets: (o) => [o.password],
    build: (o) => [postgresRole(o)],
  }),
  postgres_database: spec({
    schema: () => z.strictObject({
      name: pgName(),
      owner: pgName(),
      encoding: z.string().regex(/^[A-Za-z0-9_-]+$/, 'an encoding name like UTF8').optional(),
      lc_collate: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'a locale like C or en_US.UTF-8').optional(),
      lc_ctype: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'a locale like C or en_US.UTF-8').optional(),
      template: pgName().optional(),
      ...common(),
    }),
    build: (o) => [postgresDatabase(o)],
  }),
  postgres_setting: spec({
    schema: () => z.strictObject({
      // The name goes into ALTER SYSTEM SET as it is: only what a setting's name can be.
      name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'a setting name like max_connections (or extension.setting)'),
      value: z.string(),
      builtin: z.string().optional(),
      ...common(),
    }),
    build: (o) => [postgresSetting(o)],
  }),
  meta: spec({
    // Ansible's `- meta: flush_handlers`: run the handlers notified so far, here.
    schema: () => z.literal('flush_handlers', { error: 'the only meta task is flush_handlers (- meta: flush_handlers)' }),
    build: () => [flushHandlers()],
    notHandler: 'flush_handlers runs the handlers: it is a task, not a handler',
  }),
} as const;

export type InlineTaskType = keyof typeof inlineTaskTypes;

/**
 * Resource types of the role API that are no inline tasks, and why. The key is what a playbook
 * would write.
 */
export const REFUSED_INLINE_TYPES: Readonly<Record<string, string>> = {
  postgres_hba:
    "mxplay's pg_hba.conf entries are one block that the postgres role writes on every run (removing entries it was not given): " +
    'an inline task would fight it; give the entries in the postgres role\'s postgres_hba variable',
};

/** Names a playbook may write for a type (the role API's camelCase, kebab-case, Ansible's), to suggest the right one. */
const ALIASES: Record<string, string> = {
  yaml: 'yaml_file',
  yamlfile: 'yaml_file',
  flushhandlers: "meta (- meta: flush_handlers)",
  aptrepository: 'apt_source',
  postgresdb: 'postgres_database',
  postgresuser: 'postgres_role',
  postgresqluser: 'postgres_role',
  postgresqldb: 'postgres_database',
  dockercompose: 'docker_compose',
  copy: 'file (content) or template (src)',
  systemd: 'service',
  shell: 'command',
};
const normal = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');

/** The type a playbook probably meant by an unknown one (aptSource → apt_source, copy → file), if any. */
export function inlineTypeHint(type: string): string | undefined {
  const n = normal(type);
  return Object.keys(inlineTaskTypes).find((k) => normal(k) === n) ?? ALIASES[n];
}

// ---- building -----------------------------------------------------------------------------

/** What playbook.ts keeps of a task (see InlineTask there). */
interface TaskLike {
  type: InlineTaskType;
  options: unknown;
  line?: number;
  label?: string;
  file?: string;
}

function located(t: TaskLike, ctx: InlineTaskContext, e: unknown): never {
  if (!(e instanceof UserError)) throw e;
  const key = e.context.key ?? (t.type === 'template' ? 'src' : undefined);
  throw new UserError(`${t.label ? `${t.label}: ` : ''}${e.message}`, {
    ...(t.file ? { file: t.file } : {}),
    ...(t.line !== undefined ? { line: t.line } : {}),
    host: ctx.host,
    ...(key ? { key } : {}),
  });
}

/**
 * The resources of an inline task on one host (a template is rendered with the host's variables;
 * apt_source is two files). A problem is a UserError naming the playbook, line, task and host.
 */
export function inlineTaskResources(t: TaskLike, ctx: InlineTaskContext): Resource[] {
  try {
    return (inlineTaskTypes[t.type] as InlineType).build(t.options as never, ctx);
  } catch (e) {
    return located(t, ctx, e);
  }
}

/** An inline handler's one resource on one host (types that are not one action were refused when loading). */
export function inlineHandlerResource(t: TaskLike, ctx: InlineTaskContext): Resource {
  const rs = inlineTaskResources(t, ctx);
  if (rs.length !== 1) throw new UserError(`${t.label ?? t.type}: a handler is one action`, { ...(t.file ? { file: t.file } : {}), ...(t.line !== undefined ? { line: t.line } : {}) });
  return rs[0]!;
}
