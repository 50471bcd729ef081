// What mxplay's roles write into Synapse's configuration: the keys (for synapse_extra_config, which
// refuses them, and mxplay import, which must not put them there) and the conf.d fragment names.

/**
 * Every top-level key an mxplay role writes into Synapse's config (conf.d fragments and the
 * workers' files), with what sets it instead. Synapse merges files shallowly, so a hand-written copy
 * of one of these keys would replace the role's whole value: synapse_extra_config refuses them.
 * test/unit/roles/escape-hatches.test.ts derives the real set from the roles and fails
 * when this list misses one.
 */
export const MXPLAY_SYNAPSE_KEYS: Readonly<Record<string, string>> = {
  server_name: 'synapse_server_name (role synapse)',
  report_stats: 'synapse_report_stats (role synapse)',
  public_baseurl: 'synapse_public_baseurl (role synapse)',
  presence: 'synapse_presence (role synapse)',
  trusted_key_servers: 'synapse_trusted_key_servers (role synapse)',
  suppress_key_server_warning: 'synapse_trusted_key_servers (role synapse, which writes it with them)',
  ip_range_whitelist: 'synapse_ip_range_whitelist (role synapse)',
  rc_login: 'synapse_rc_login (role synapse)',
  rc_message: 'synapse_rc_message (role synapse)',
  rc_registration: 'synapse_rc_registration (role synapse)',
  rc_joins: 'synapse_rc_joins (role synapse)',
  rc_room_creation: 'synapse_rc_room_creation (role synapse)',
  listeners: 'synapse_http_port, synapse_bind_addresses and synapse_listener_resources (role synapse)',
  database: 'the synapse_db_* variables (role synapse)',
  registration_shared_secret: 'synapse_registration_shared_secret (role synapse)',
  macaroon_secret_key: 'synapse_macaroon_secret_key (role synapse)',
  form_secret: 'synapse_form_secret (role synapse)',
  media_store_path: 'synapse_media_store_path (role synapse)',
  max_upload_size: 'synapse_max_upload_size (role synapse)',
  url_preview_enabled: 'synapse_url_previews (role synapse)',
  url_preview_ip_range_blacklist: 'synapse_url_preview_ip_range_blacklist (role synapse)',
  enable_registration: 'synapse_registration (role synapse)',
  registration_requires_token: 'synapse_registration (role synapse)',
  registrations_require_3pid: 'synapse_registration (role synapse)',
  password_config: 'synapse_password_policy and synapse_password_localdb_enabled (role synapse)',
  limit_usage_by_mau: 'synapse_mau_limit (role synapse)',
  max_mau_value: 'synapse_mau_limit (role synapse)',
  worker_replication_secret: 'synapse_worker_replication_secret (role synapse)',
  redis: 'synapse_redis_host, synapse_redis_port and synapse_redis_password (role synapse, with workers)',
  instance_map: 'synapse_workers (role synapse)',
  stream_writers: 'synapse_workers (role synapse)',
  federation_sender_instances: 'synapse_workers (role synapse)',
  pusher_instances: 'synapse_workers (role synapse)',
  run_background_tasks_on: 'synapse_workers (role synapse)',
  enable_media_repo: 'synapse_workers (role synapse)',
  media_instance_running_background_jobs: 'synapse_workers (role synapse)',
  worker_app: "synapse_workers (role synapse, in each worker's file)",
  worker_name: "synapse_workers (role synapse, in each worker's file)",
  worker_listeners: "synapse_workers (role synapse, in each worker's file)",
  turn_uris: 'coturn_turn_uris (role coturn)',
  turn_shared_secret: 'coturn_shared_secret (role coturn)',
  turn_user_lifetime: 'coturn_turn_user_lifetime (role coturn)',
  turn_allow_guests: 'coturn_turn_allow_guests (role coturn)',
  email: 'the synapse_email_* variables (role synapse_email)',
  modules: 'the synapse_ldap_* variables (role synapse_ldap)',
  user_consent: 'the synapse_consent_* variables (role synapse_consent)',
  server_notices: 'the synapse_server_notices_* variables (role synapse_server_notices)',
  oidc_providers: 'the synapse_oidc_* variables (role synapse_oidc)',
  sso: 'synapse_oidc_client_whitelist and synapse_oidc_update_profile_information (role synapse_oidc)',
};

/** The conf.d fragments the roles write (names without .yaml): never a hand-written file to remove. */
export const MXPLAY_FRAGMENTS: readonly string[] = [
  'server_name', 'report_stats', 'server', 'key_servers', 'federation', 'rate_limits', 'listeners', 'database',
  'secrets', 'workers', 'media', 'url_previews', 'registration', 'password', 'mau_limit', 'extra',
  'turn', 'email', 'ldap', 'user_consent', 'server_notices', 'oidc',
];
