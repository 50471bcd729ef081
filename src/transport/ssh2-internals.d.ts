// The two parts of ssh2 (bundled with node-ssh, which ships no types for it) that mxplay uses directly.
declare module 'ssh2/lib/protocol/keyParser.js' {
  export interface ParsedKey {
    type: string;
    comment: string;
    isPrivateKey(): boolean;
    getPublicSSH(): Buffer;
  }
  export function parseKey(data: Buffer | string, passphrase?: string | Buffer): ParsedKey | ParsedKey[] | Error;
}

declare module 'ssh2/lib/agent.js' {
  import type { ParsedKey } from 'ssh2/lib/protocol/keyParser.js';
  export class OpenSSHAgent {
    constructor(socketPath: string);
    getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void;
  }
}
