import { defineRole, z, secret, apt, service, postgresRole, postgresDatabase, postgresSetting } from 'mxplay';

// PostgreSQL from Debian's packages. The major version is whatever the suite ships (15 on
// bookworm, 17 on trixie, 18 on sid): nothing here names it, all access goes through the
// `postgres` superuser on the local socket.
export default defineRole({
  name: 'postgres',
  description: 'PostgreSQL server from apt, with login roles and databases',
  vars: z.object({
    postgres_listen_addresses: z.string().default('localhost')
      .describe("addresses the server listens on ('localhost', '*', or a list); remote clients also need pg_hba.conf entries"),
    postgres_users: z
      .array(z.strictObject({ name: z.string().min(1), password: secret() }))
      .default([])
      .describe('login roles to create, each with its password'),
    postgres_databases: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          owner: z.string().min(1),
          encoding: z.string().default('UTF8'),
          lc_collate: z.string().default('C'),
          lc_ctype: z.string().default('C'),
        }),
      )
      .default([])
      .describe('databases to create; Synapse needs UTF8 with C collation, from template0 (the defaults)'),
  }),
  tasks: (v) => [
    apt({ names: ['postgresql'] }),
    service({ name: 'postgresql', enabled: true, state: 'started' }),
    postgresSetting({ name: 'listen_addresses', value: v.postgres_listen_addresses, builtin: 'localhost', notify: 'restart postgresql' }),
    v.postgres_users.map((u) => postgresRole({ name: u.name, password: u.password })),
    v.postgres_databases.map((d) =>
      postgresDatabase({ name: d.name, owner: d.owner, encoding: d.encoding, lc_collate: d.lc_collate, lc_ctype: d.lc_ctype }),
    ),
  ],
  handlers: {
    'restart postgresql': service.restart('postgresql', { tcp: '127.0.0.1:5432', timeout_s: 60 }),
  },
});
