export { file } from './file.ts';
export { directory } from './directory.ts';
export { link } from './link.ts';
export { template } from './template.ts';
export { yamlFile } from './yaml.ts';
export { apt } from './apt.ts';
export { aptSource } from './apt-source.ts';
export { debconf } from './debconf.ts';
export { service, type Readiness } from './service.ts';
export { command } from './command.ts';
export { release } from './release.ts';
export { user, group } from './user.ts';
export { flushHandlers } from './flush.ts';
export { pipedFrom, q } from './sh.ts';
export {
  postgresRole, postgresDatabase, postgresSetting, postgresHba,
  pgHbaNameProblem, pgHbaMethodProblem, pgHbaAddress, PG_HBA_METHODS,
  type PostgresHbaEntry,
} from './postgres.ts';
export { dockerCompose } from './docker-compose.ts';
export type { Resource, Task, Change, Action, RoleContext, FactProbe, HostNote } from './types.ts';
export type { Facts, FactQuery } from './facts.ts';
export { nginxString, nginxLiteral, apacheString, turnserverOption, envValue, htmlText, jinjaHtmlText, redisString, TURNSERVER_LINE_MAX } from './config-text.ts';
export { retiredFiles } from './retired.ts';
