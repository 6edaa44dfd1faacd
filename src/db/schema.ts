
/**
 * Table shapes, identical on SQLite and PostgreSQL. Timestamps are ISO-8601 UTC strings of one fixed
 * width (they compare correctly as text on both), JSON is text, booleans are 0/1 integers.
 */
export interface ApiKeyTable {
  id: string;
  account_id: string;
  name: string;
  scopes: string;
  prefix: string;
  last_four: string;
  key_hash: string;
  previous_hash: string | null;
  previous_expires_at: string | null;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  rolled_at: string | null;
  /** JSON list of CIDRs the key may be used from; null = any address. */
  allowed_ips: string | null;
  /** JSON `{"clusters":[ids],"apps":[ids]}`: the only resources the key may see; null = the whole account. */
  resources: string | null;
  /** JSON `{"<scope>":"<timestamp>"}`: scopes that lapse before the key; null = none. */
  scope_expires_at: string | null;
  /** The key's own rate limit: requests per window (both set or both null = RATE_LIMIT_DEFAULT). */
  rate_limit_requests: number | null;
  rate_limit_per_seconds: number | null;
  /** Why it was revoked (migration 0008): `revoked` (by a user), `leaked`, `owner_removed`; null while live. */
  revoked_reason: string | null;
  /** 1: a canary key (CONTRACT §7): every use answers like an unknown key and raises `api_key.canary_used`. */
  canary: number;
  /** 1: the previous secret is dropped the first time the current one is used (roll with `retire_old: on_first_use`). */
  previous_retires_on_first_use: number;
}

export interface CloudTable {
  id: string;
  account_id: string;
  name: string;
  provider: string;
  region: string;
  credentials_encrypted: string;
  credential_hint: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ClusterTable {
  id: string;
  account_id: string;
  cloud_id: string;
  name: string;
  region: string;
  kubernetes_version: string;
  status: string;
  status_reason: string | null;
  endpoint: string | null;
  labels: string;
  auto_upgrade: number;
  active_job_id: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface NodePoolTable {
  id: string;
  account_id: string;
  cluster_id: string;
  name: string;
  instance_type: string;
  min_size: number;
  max_size: number;
  desired_size: number;
  current_size: number;
  status: string;
  status_reason: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface JobTable {
  id: string;
  account_id: string;
  type: string;
  status: string;
  resource_type: string;
  resource_id: string;
  cluster_id: string | null;
  params: string;
  error_code: string | null;
  error_message: string | null;
  cancel_requested_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  attempts: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobStepTable {
  job_id: string;
  position: number;
  name: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobLogTable {
  job_id: string;
  seq: number;
  at: string;
  level: string;
  step: string | null;
  message: string;
}

export interface AppTable {
  id: string;
  account_id: string;
  cluster_id: string;
  name: string;
  type: string;
  image: string | null;
  status: string;
  status_reason: string | null;
  config: string;
  current_deploy_id: string | null;
  active_job_id: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface DeployTable {
  id: string;
  account_id: string;
  app_id: string;
  image: string;
  status: string;
  job_id: string | null;
  previous_image: string | null;
  error_message: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface DagBundleTable {
  id: string;
  account_id: string;
  app_id: string;
  version: number;
  digest: string;
  size_bytes: number;
  file_count: number;
  files: string;
  status: string;
  job_id: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface DevCredentialTable {
  id: string;
  account_id: string;
  app_id: string;
  issued_to: string;
  principal_type: string;
  expires_at: string;
  created_at: string;
}

export interface TerminalSessionTable {
  id: string;
  account_id: string;
  cluster_id: string;
  pod: string;
  namespace: string;
  token_hash: string;
  expires_at: string;
  used_at: string | null;
  created_by: string;
  created_at: string;
}

export interface GithubIntegrationTable {
  account_id: string;
  installation_id: string;
  repository: string;
  branch: string;
  dag_path: string;
  connected_by: string;
  created_at: string;
  updated_at: string;
}

export interface BillingAccountTable {
  account_id: string;
  plan: string;
  status: string;
  provider_customer_id: string | null;
  current_period_start: string;
  current_period_end: string;
  created_at: string;
  updated_at: string;
}

export interface UsageRecordTable {
  id: string;
  account_id: string;
  resource_type: string;
  resource_id: string;
  quantity: number;
  started_at: string;
  ended_at: string | null;
}

export interface SigningKeyTable {
  kid: string;
  algorithm: string;
  private_key_encrypted: string;
  public_jwk: string;
  created_at: string;
  retired_at: string | null;
}

export interface SettingTable {
  name: string;
  value: string;
  created_at: string;
}

/** One row of a key's activity (migration 0006): a refused request, a write, or a minute of reads. */
export interface KeyActivityTable {
  id: string;
  key_id: string;
  /** When it happened; for a roll-up of reads, the start of its minute. */
  at: string;
  kind: 'refused' | 'write' | 'reads';
  method: string;
  /** The route template (`/clusters/{id}`), never the path with ids in it. */
  route: string;
  status: number;
  code: string | null;
  missing_scope: string | null;
  client_ip: string | null;
  user_agent: string | null;
  /** 1, except for a roll-up of reads. */
  count: number;
}

/** One entry of the account's audit trail (migration 0008), written in the transaction of its change. */
export interface EventTable {
  id: string;
  account_id: string;
  type: string;
  actor_type: string;
  actor_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  subject_type: string;
  subject_id: string;
  /** The key the event is about, or the key that did it (the `?api_key_id=` filter). */
  api_key_id: string | null;
  /** JSON object: a few facts of the change, never a secret. */
  data: string;
  created_at: string;
  /** Set for events that may be raised more than once for one fact (expiry notices): unique. */
  dedupe_key: string | null;
}

/** A webhook endpoint of an account (migration 0009). */
export interface WebhookTable {
  id: string;
  account_id: string;
  url: string;
  description: string | null;
  /** The `whsec_` secret, sealed with ENCRYPTION_KEY and bound to the row id (lib/secret-box.ts). */
  secret_encrypted: string;
  created_at: string;
  /** Start of the current run of failed attempts; null while deliveries succeed. */
  failing_since: string | null;
  disabled_at: string | null;
  deleted_at: string | null;
}

/** One event type an endpoint subscribes to (`*`: all of them). */
export interface WebhookEventTypeTable {
  webhook_id: string;
  event_type: string;
}

/** One event to one endpoint: unique per (webhook_id, event_id); its id is the `webhook-id` header. */
export interface WebhookDeliveryTable {
  id: string;
  account_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  /** The JSON body, fixed when queued: every attempt signs and sends the same bytes. */
  payload: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  /** When the next attempt is due (the app's clock); null once succeeded or given up. */
  next_attempt_at: string | null;
  /** The instance sending an attempt now, and until when (the database's clock). */
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** One attempt of a delivery. */
export interface WebhookAttemptTable {
  delivery_id: string;
  seq: number;
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  /** At most 1 KiB of the response body (UTF-8, cut on a character boundary). */
  response_body: string | null;
}

/** A Clerk (Svix) delivery already accepted (migration 0010): its id refuses a replay on every instance. */
export interface ClerkWebhookDeliveryTable {
  /** The `svix-id` header. */
  id: string;
  received_at: string;
}

export interface Database {
  api_keys: ApiKeyTable;
  clouds: CloudTable;
  clusters: ClusterTable;
  node_pools: NodePoolTable;
  jobs: JobTable;
  job_steps: JobStepTable;
  job_logs: JobLogTable;
  apps: AppTable;
  deploys: DeployTable;
  dag_bundles: DagBundleTable;
  dev_credentials: DevCredentialTable;
  terminal_sessions: TerminalSessionTable;
  github_integrations: GithubIntegrationTable;
  billing_accounts: BillingAccountTable;
  usage_records: UsageRecordTable;
  signing_keys: SigningKeyTable;
  settings: SettingTable;
  key_activity: KeyActivityTable;
  events: EventTable;
  webhooks: WebhookTable;
  webhook_event_types: WebhookEventTypeTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  clerk_webhook_deliveries: ClerkWebhookDeliveryTable;
}

