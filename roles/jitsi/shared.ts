import { z } from 'mxplay';

/**
 * Variables of the jitsi role that the proxy roles read too (one flat namespace per host: the
 * same schema here keeps them one value).
 */
export const jitsiSharedVars = {
  jitsi_http_port: z.number().int().min(1).max(65535).default(8000)
    .describe("port of the Jitsi web container's plain HTTP on the host (published on jitsi_http_bind); the proxy forwards to it"),
};
