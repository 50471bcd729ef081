import {
  defineRole, z, secret, apt, service, postgresRole, postgresDatabase, postgresSetting, postgresHba,
  ipOrCidr, pgHbaNameProblem, pgHbaMethodProblem,
} from 'mxplay';

// PostgreSQL from Debian's packages. The major version is whatever the suite ships (15 on
// bookworm, 17 on trixie, 18 on sid): nothing here names it, all access goes through the
// `postgres` superuser on the local socket (pg_hba.conf too: the server says where it is).

/** A database or user name of a pg_hba.conf entry: one that cannot break its line (see pgHbaNameProblem). */
const hbaName = (kind: 'database' | 'user') =>
  z.string().superRefine((s, ctx) => {
    const problem = pgHbaNameProblem(kind, s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export default defineRole({
  name: 'postgres',
  description: 'PostgreSQL server from apt, with login roles, databases and pg_hba.conf entries for remote clients',
  vars: z.object({
    postgres_listen_addresses: z.string().default('localhost')
      .describe("addresses the server listens on ('localhost', '*', or a list); remote clients also need postgres_hba entries"),
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
    postgres_hba: z
      .array(
        z.strictObject({
          database: hbaName('database'),
          user: hbaName('user'),
          address: z.string().refine(
            (s) => ipOrCidr.safeParse(s).success,
            'an IP address (10.0.0.5, 2001:db8::5: that host alone) or a network in CIDR form (10.0.0.0/24)',
          ),
          method: z.string().default('scram-sha-256').superRefine((m, ctx) => {
            const problem = pgHbaMethodProblem(m);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
          tls: z.boolean().default(false),
        }),
      )
      .default([])
      .describe(
        'pg_hba.conf entries for clients on other hosts: which address may reach which database as which user ' +
          '(method scram-sha-256 or md5; tls: true for hostssl); kept in a block of their own after the distribution\'s lines, ' +
          'removed again when removed here',
      ),
  }),
  tasks: (v) => [
    apt({ names: ['postgresql'] }),
    service({ name: 'postgresql', enabled: true, state: 'started' }),
    postgresSetting({ name: 'listen_addresses', value: v.postgres_listen_addresses, builtin: 'localhost', notify: 'restart postgresql' }),
    v.postgres_users.map((u) => postgresRole({ name: u.name, password: u.password })),
    v.postgres_databases.map((d) =>
      postgresDatabase({ name: d.name, owner: d.owner, encoding: d.encoding, lc_collate: d.lc_collate, lc_ctype: d.lc_ctype }),
    ),
    // Always there, also with no entries: the entries of an earlier run are removed then.
    postgresHba({ entries: v.postgres_hba, notify: 'reload postgresql' }),
  ],
  // Only a server that listens beyond the host itself is for other hosts to reach.
  verify: (v) => (/^\s*(localhost|127\.0\.0\.1|::1)(\s*,\s*(localhost|127\.0\.0\.1|::1))*\s*$/.test(v.postgres_listen_addresses)
    ? []
    : [{ what: 'PostgreSQL takes connections from other hosts', probe: { kind: 'tcp', port: 5432 } }]),
  ports: (v) => (/^\s*(localhost|127\.0\.0\.1|::1)(\s*,\s*(localhost|127\.0\.0\.1|::1))*\s*$/.test(v.postgres_listen_addresses)
    ? []
    : [{ protocol: 'tcp', port: 5432, why: 'PostgreSQL for other hosts' }]),
  handlers: {
    'restart postgresql': service.restart('postgresql', { tcp: '127.0.0.1:5432', timeout_s: 60 }),
    // pg_hba.conf is read again on reload: connections already open keep going.
    'reload postgresql': service.reload('postgresql'),
  },
});
