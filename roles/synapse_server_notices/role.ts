import { defineRole, z } from 'mxplay';
import { FLAVOURS, fragment, synapseSharedVars, synapseHandlers } from '../synapse/fragment.ts';

/** Synapse's `server_notices:` block (the system user that talks to users) in conf.d/server_notices.yaml. */
export default defineRole({
  name: 'synapse_server_notices',
  description: "Synapse's server_notices: block (system user, its room) in conf.d/server_notices.yaml",
  vars: z.object({
    synapse_server_notices_enabled: z.boolean().default(true).describe('false removes the server_notices fragment'),
    synapse_server_notices_system_mxid_localpart: z.string().regex(/^[a-z0-9._=\-/]+$/, 'a Matrix localpart (lowercase)')
      .default('notices').describe('localpart of the system user that sends notices (created by Synapse)'),
    synapse_server_notices_system_mxid_display_name: z.string().min(1).default('Server Notices'),
    synapse_server_notices_system_mxid_avatar_url: z.string().regex(/^mxc:\/\/[^/]+\/.+$/, 'an mxc:// URL').optional(),
    synapse_server_notices_room_name: z.string().min(1).default('Server Notices').describe('name of the room notices arrive in'),
    synapse_server_notices_auto_join: z.boolean().default(false).describe('join users to the notices room instead of inviting them'),
    ...synapseSharedVars,
  }),
  tasks: (v) => {
    const flavour = FLAVOURS[v.synapse_package_source];
    if (!v.synapse_server_notices_enabled) return [fragment('server_notices', 'synapse_server_notices', null, flavour)];
    const notices: Record<string, unknown> = {
      system_mxid_localpart: v.synapse_server_notices_system_mxid_localpart,
      system_mxid_display_name: v.synapse_server_notices_system_mxid_display_name,
      room_name: v.synapse_server_notices_room_name,
      auto_join: v.synapse_server_notices_auto_join,
    };
    if (v.synapse_server_notices_system_mxid_avatar_url) notices.system_mxid_avatar_url = v.synapse_server_notices_system_mxid_avatar_url;
    return [fragment('server_notices', 'synapse_server_notices', { server_notices: notices }, flavour)];
  },
  handlers: synapseHandlers,
});
