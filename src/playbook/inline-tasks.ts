import { z } from 'zod';
import { apt, command, directory, file, group, link, service, user } from '../resources/index.ts';
import type { Resource } from '../resources/types.ts';

/** Resource types usable as plain YAML tasks in a playbook (`tasks:`), with their option schemas. */
const common = {
  notify: z.union([z.string(), z.array(z.string())]).optional(),
  tags: z.array(z.string()).optional(),
  validate: z.string().optional(),
};
const mode = z.union(
  [z.number().int(), z.string().regex(/^0?[0-7]{3,4}$/).transform((s) => parseInt(s, 8))],
  { error: 'a file mode as an octal string, e.g. "0640"' },
);
const owned = { mode: mode.optional(), owner: z.string().optional(), group: z.string().optional() };
const presence = z.enum(['present', 'absent']).optional();

export const inlineTaskTypes = {
  file: {
    // sensitive: the content is secret as a whole (a key, a token file): plans show only that it changes.
    schema: z.strictObject({ path: z.string(), content: z.string().optional(), sensitive: z.boolean().optional(), state: presence, ...owned, ...common }),
    make: (o: any): Resource => file(o),
  },
  directory: {
    schema: z.strictObject({ path: z.string(), state: presence, ...owned, ...common }),
    make: (o: any): Resource => directory(o),
  },
  link: {
    schema: z.strictObject({ path: z.string(), target: z.string(), state: presence, ...common }),
    make: (o: any): Resource => link(o),
  },
  apt: {
    schema: z.strictObject({
      names: z.union([z.string().transform((s) => [s]), z.array(z.string()).min(1)]),
      state: z.enum(['present', 'absent', 'latest']).optional(),
      install_recommends: z.boolean().optional(),
      ...common,
    }),
    make: (o: any): Resource => apt(o),
  },
  service: {
    schema: z.strictObject({
      name: z.string(),
      enabled: z.boolean().optional(),
      state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
      ...common,
    }),
    // restarted/reloaded are actions (mostly for handlers): they change every time they run.
    make: (o: any): Resource =>
      o.state === 'restarted' ? service.restart(o.name) : o.state === 'reloaded' ? service.reload(o.name) : service(o),
  },
  command: {
    schema: z.strictObject({ cmd: z.string(), name: z.string().optional(), creates: z.string().optional(), unless: z.string().optional(), ...common }),
    make: (o: any): Resource => command(o),
  },
  user: {
    schema: z.strictObject({
      name: z.string(),
      system: z.boolean().optional(),
      home: z.string().optional(),
      shell: z.string().optional(),
      group: z.string().optional(),
      groups: z.array(z.string()).optional(),
      state: presence,
      ...common,
    }),
    make: (o: any): Resource => user(o),
  },
  group: {
    schema: z.strictObject({ name: z.string(), system: z.boolean().optional(), state: presence, ...common }),
    make: (o: any): Resource => group(o),
  },
} as const;

export type InlineTaskType = keyof typeof inlineTaskTypes;
