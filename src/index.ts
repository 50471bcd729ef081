/** The API a role is written against: `import { defineRole, z, apt, template, service, secret } from 'mxplay'`. */
export { z } from 'zod';
export { defineRole, type RoleDefinition, type TaskContext, type ServedPort, type HostServedPort } from './roles/define.ts';
export { secret } from './secrets/secrets.ts';
export { UserError } from './errors.ts';
export { hostName, isHostName, hostOrIp, ipAddress, ipOrCidr, absolutePath, port, serverName } from './roles/schemas.ts';
export { MXPLAY_SYNAPSE_KEYS, MXPLAY_FRAGMENTS } from './roles/synapse-keys.ts';
export * from './resources/index.ts';
export type { Check, HttpAnswer, Probe } from './verify/check.ts';
export * as expect from './verify/expect.ts';
