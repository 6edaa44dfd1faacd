import { createPrivateKey } from 'node:crypto';
import type { FieldError } from '../../http/errors.js';

/**
 * Credentials are checked for shape per provider before they are sealed: a typo is caught at connect
 * time, not twenty minutes into a cluster build. They are never returned; `hint` is what the API shows.
 */
export const PROVIDERS = ['aws', 'gcp', 'azure'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const REGION_PATTERNS: Record<Provider, RegExp> = {
  aws: /^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d$/,
  gcp: /^[a-z]+-[a-z]+\d$/,
  azure: /^[a-z]+[a-z0-9]*$/,
};

export const REGION_EXAMPLES: Record<Provider, string> = { aws: 'us-east-1', gcp: 'europe-west1', azure: 'westeurope' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Raw = Record<string, unknown>;

export interface CheckedCredentials {
  /** Canonical JSON to seal. */
  secret: string;
  /** Safe to show: names the credential without revealing it. */
  hint: string;
}

function str(raw: Raw, field: string, errors: FieldError[], pattern: RegExp, message: string): string {
  const value = raw[field];
  if (typeof value !== 'string' || !pattern.test(value)) {
    errors.push({ path: `credentials.${field}`, message });
    return '';
  }
  return value;
}

function onlyFields(raw: Raw, allowed: string[], errors: FieldError[]): void {
  for (const field of Object.keys(raw)) {
    if (!allowed.includes(field)) errors.push({ path: `credentials.${field}`, message: 'is not a known field' });
  }
}

function checkAws(raw: Raw, errors: FieldError[]): CheckedCredentials {
  if (raw.role_arn !== undefined) {
    onlyFields(raw, ['role_arn', 'external_id'], errors);
    const roleArn = str(raw, 'role_arn', errors, /^arn:aws(-us-gov|-cn)?:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN (arn:aws:iam::123456789012:role/name)');
    const externalId = raw.external_id === undefined ? undefined : str(raw, 'external_id', errors, /^[\w+=,.@:/-]{2,1224}$/, 'must be 2 to 1224 characters');
    return { secret: JSON.stringify({ role_arn: roleArn, external_id: externalId }), hint: `role ${roleArn.split('/').pop() ?? ''}` };
  }
  onlyFields(raw, ['access_key_id', 'secret_access_key', 'session_token'], errors);
  const accessKeyId = str(raw, 'access_key_id', errors, /^(AKIA|ASIA)[A-Z0-9]{16}$/, 'must be an AWS access key id (AKIA… or ASIA…, 20 characters)');
  const secretAccessKey = str(raw, 'secret_access_key', errors, /^[A-Za-z0-9/+=]{40}$/, 'must be the 40-character secret access key');
  const sessionToken = raw.session_token === undefined ? undefined : str(raw, 'session_token', errors, /^[A-Za-z0-9/+=]{16,4096}$/, 'must be an AWS session token');
  return {
    secret: JSON.stringify({ access_key_id: accessKeyId, secret_access_key: secretAccessKey, session_token: sessionToken }),
    hint: `access key …${accessKeyId.slice(-4)}`,
  };
}

function checkGcp(raw: Raw, errors: FieldError[]): CheckedCredentials {
  onlyFields(raw, ['service_account_key'], errors);
  let key: unknown = raw.service_account_key;
  if (typeof key === 'string') {
    try {
      key = JSON.parse(key);
    } catch {
      key = null;
    }
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) {
    errors.push({ path: 'credentials.service_account_key', message: 'must be the JSON key file of a service account' });
    return { secret: '', hint: '' };
  }
  const sa = key as Raw;
  if (sa.type !== 'service_account') errors.push({ path: 'credentials.service_account_key.type', message: 'must be "service_account"' });
  const project = str(sa, 'project_id', errors, /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id');
  const email = str(sa, 'client_email', errors, /^[a-z0-9-]+@[a-z0-9-]+\.iam\.gserviceaccount\.com$/, 'must be a service account email');
  const privateKey = typeof sa.private_key === 'string' ? sa.private_key : '';
  try {
    createPrivateKey(privateKey);
  } catch {
    errors.push({ path: 'credentials.service_account_key.private_key', message: 'must be a PEM private key' });
  }
  for (const error of errors) error.path = error.path.replace(/^credentials\.(project_id|client_email)$/, 'credentials.service_account_key.$1');
  return {
    secret: JSON.stringify({ type: 'service_account', project_id: project, client_email: email, private_key: privateKey, private_key_id: sa.private_key_id }),
    hint: `service account ${email}`,
  };
}

function checkAzure(raw: Raw, errors: FieldError[]): CheckedCredentials {
  onlyFields(raw, ['tenant_id', 'client_id', 'client_secret', 'subscription_id'], errors);
  const tenantId = str(raw, 'tenant_id', errors, UUID, 'must be a UUID');
  const clientId = str(raw, 'client_id', errors, UUID, 'must be a UUID');
  const clientSecret = str(raw, 'client_secret', errors, /^\S{8,256}$/, 'must be the client secret (8 to 256 characters, no spaces)');
  const subscriptionId = str(raw, 'subscription_id', errors, UUID, 'must be a UUID');
  return {
    secret: JSON.stringify({ tenant_id: tenantId, client_id: clientId, client_secret: clientSecret, subscription_id: subscriptionId }),
    hint: `client ${clientId.slice(0, 8)}…`,
  };
}

export function checkCredentials(provider: Provider, raw: Raw): { ok: CheckedCredentials } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  const checked = provider === 'aws' ? checkAws(raw, errors) : provider === 'gcp' ? checkGcp(raw, errors) : checkAzure(raw, errors);
  return errors.length > 0 ? { errors } : { ok: checked };
}

export function checkRegion(provider: Provider, region: string): FieldError | null {
  return REGION_PATTERNS[provider].test(region)
    ? null
    : { path: 'region', message: `is not a ${provider} region (e.g. ${REGION_EXAMPLES[provider]})` };
}
