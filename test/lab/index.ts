// The lab's public surface, for the CLI, the e2e global setup and tests.
export { ensureBase } from './base.ts';
export * from './config.ts';
export { labHosts, type LabFixture, type LabHost, type LabHostsOptions } from './fixture.ts';
export { hostStatuses, startHost, startHosts, stopHost, type HostSpec, type StartedHost } from './host.ts';
export { ensureLabInfra, labDown, labDownForRun, labStatus, labUp, type DownResult, type LabStatus } from './lab.ts';
export { ensureNetwork } from './network.ts';
export { ensureAptProxy } from './proxy.ts';
export { ssh, sshArgv, type SshOptions } from './ssh.ts';
export { assertRoot, ensureControlTools } from './tools.ts';
