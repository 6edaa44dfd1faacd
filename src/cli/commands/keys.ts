import { PRESET_NAMES, SCOPE_PRESETS, unwrap, type ApiKey, type CreateApiKeyBody, type PresetName, type RollApiKeyBody, type UpdateApiKeyBody } from '../../sdk/index.js';
import { usageError } from '../errors.js';
import { parse, session, table, wholeNumber, type Io } from '../io.js';

/** The longest grace a roll may give the old secret (the API's bound: 7 days). */
const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export async function keys(io: Io, args: string[]): Promise<void> {
  const [sub = '', ...rest] = args;
  if (sub === 'create') return create(io, rest);
  if (sub === 'list') return list(io, rest);
  if (sub === 'revoke') return revoke(io, rest);
  if (sub === 'roll') return roll(io, rest);
  if (sub === 'update') return update(io, rest);
  throw usageError(sub ? `unknown command "keys ${sub}"` : 'keys needs a command: create, list, update, revoke or roll');
}

type Restrictions = Pick<CreateApiKeyBody, 'allowed_ips' | 'resources' | 'scope_expires_at' | 'rate_limit'>;

/** The restriction flags shared by create and update (CONTRACT §7); the API validates the values. */
const RESTRICTION_OPTIONS = {
  'allow-ip': { type: 'string', multiple: true },
  'any-ip': { type: 'boolean' },
  cluster: { type: 'string', multiple: true },
  app: { type: 'string', multiple: true },
  'whole-account': { type: 'boolean' },
  'scope-expires': { type: 'string', multiple: true },
  'no-scope-expiry': { type: 'boolean' },
  'rate-limit': { type: 'string' },
  'default-rate-limit': { type: 'boolean' },
} as const;

interface RestrictionValues {
  'allow-ip'?: string[] | undefined;
  'any-ip'?: boolean | undefined;
  cluster?: string[] | undefined;
  app?: string[] | undefined;
  'whole-account'?: boolean | undefined;
  'scope-expires'?: string[] | undefined;
  'no-scope-expiry'?: boolean | undefined;
  'rate-limit'?: string | undefined;
  'default-rate-limit'?: boolean | undefined;
}

function restrictions(values: RestrictionValues): Restrictions {
  const body: Restrictions = {};
  const conflicting = (a: string, b: string) => usageError(`pass --${a} or --${b}, not both`);
  if (values['allow-ip'] && values['any-ip']) throw conflicting('allow-ip', 'any-ip');
  if (values['allow-ip']) body.allowed_ips = values['allow-ip'];
  if (values['any-ip']) body.allowed_ips = null;
  if ((values.cluster || values.app) && values['whole-account']) throw conflicting('cluster/--app', 'whole-account');
  if (values.cluster || values.app) body.resources = { ...(values.cluster ? { clusters: values.cluster } : {}), ...(values.app ? { apps: values.app } : {}) };
  if (values['whole-account']) body.resources = null;
  if (values['scope-expires'] && values['no-scope-expiry']) throw conflicting('scope-expires', 'no-scope-expiry');
  if (values['scope-expires']) {
    const lapses: Record<string, string> = {};
    for (const entry of values['scope-expires']) {
      const [scope = '', at = ''] = entry.split(/=(.*)/s);
      const instant = new Date(at);
      if (!scope || Number.isNaN(instant.getTime())) throw usageError(`--scope-expires takes SCOPE=ISO-TIME, e.g. terminal:exec=2027-01-31T12:00:00Z (got "${entry}")`);
      lapses[scope] = instant.toISOString();
    }
    body.scope_expires_at = lapses as Restrictions['scope_expires_at'];
  }
  if (values['no-scope-expiry']) body.scope_expires_at = null;
  if (values['rate-limit'] && values['default-rate-limit']) throw conflicting('rate-limit', 'default-rate-limit');
  if (values['rate-limit']) {
    const match = /^(\d+)\/(\d+)$/.exec(values['rate-limit']);
    // The API checks the bounds and names the field.
    if (match === null) throw usageError(`--rate-limit takes REQUESTS/SECONDS, e.g. 600/60 (got "${values['rate-limit']}")`);
    body.rate_limit = { requests: Number(match[1]), per_seconds: Number(match[2]) };
  }
  if (values['default-rate-limit']) body.rate_limit = null;
  return body;
}

async function update(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { name: { type: 'string' }, scope: { type: 'string', multiple: true }, ...RESTRICTION_OPTIONS },
    { min: 1, max: 1, names: 'the key id (key_…)' },
  );
  const id = positionals[0] ?? '';
  const body: UpdateApiKeyBody = { ...restrictions(values) };
  if (values.name) body.name = values.name;
  // Only narrower: the API refuses a scope the key does not hold.
  if (values.scope) body.scopes = values.scope as UpdateApiKeyBody['scopes'];
  if (Object.keys(body).length === 0) throw usageError('nothing to change: pass --name, --scope or a restriction flag');
  const { client, out } = session(io, values);
  const updated = await unwrap(client.PATCH('/api-keys/{id}', { params: { path: { id } }, body }));
  out.result(updated, () => `updated ${updated.id} "${updated.name}": scopes ${updated.scopes.join(', ')}; ${describeRestrictions(updated)}`);
}

function describeRestrictions(key: ApiKey): string {
  const parts = [
    key.allowed_ips ? `allowed from ${key.allowed_ips.join(', ')}` : 'from any address',
    key.resources ? `limited to ${[...key.resources.clusters, ...key.resources.apps].join(', ')}` : 'the whole account',
  ];
  if (key.rate_limit) parts.push(`${key.rate_limit.requests} requests per ${key.rate_limit.per_seconds} s`);
  if (key.scope_expires_at) parts.push(`lapsing ${Object.entries(key.scope_expires_at).map(([scope, at]) => `${scope} at ${at}`).join(', ')}`);
  return parts.join('; ');
}

async function create(io: Io, args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      name: { type: 'string' },
      preset: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'expires-at': { type: 'string' },
      canary: { type: 'boolean' },
      ...RESTRICTION_OPTIONS,
    },
    { min: 0, max: 0, names: '' },
  );
  if (!values.name) throw usageError('--name is required');
  if (values.preset && values.scope) throw usageError('pass --preset or --scope, not both');
  const body: CreateApiKeyBody = { name: values.name, ...restrictions(values) };
  if (values.preset) {
    if (!(PRESET_NAMES as string[]).includes(values.preset)) throw usageError(`--preset must be one of ${PRESET_NAMES.join(', ')} (got "${values.preset}")`);
    body.scopes = [...SCOPE_PRESETS[values.preset as PresetName].scopes];
  } else if (values.scope) {
    // The API checks the names and says which scopes exist.
    body.scopes = values.scope as CreateApiKeyBody['scopes'];
  }
  if (values['expires-at']) {
    const at = new Date(values['expires-at']);
    if (Number.isNaN(at.getTime())) throw usageError(`--expires-at must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z (got "${values['expires-at']}")`);
    body.expires_at = at.toISOString();
  }
  if (values.canary) body.canary = true;
  const { client, out } = session(io, values);
  const created = await unwrap(client.POST('/api-keys', { body }));
  // stdout is the secret alone, so `KEY=$(skaledata keys create …)` works; the rest goes to stderr.
  out.note(`created ${created.canary ? 'canary ' : ''}${created.id} "${created.name}" with scopes ${created.scopes.join(', ')}${created.expires_at ? `, expires ${created.expires_at}` : ''}`);
  if (created.canary && !out.json) out.note('a canary: every use is refused as unknown and raises api_key.canary_used (see GET /events, or a webhook)');
  if (!out.json) out.note('the secret is shown once, below: store it now');
  out.result(created, () => created.key);
}

async function list(io: Io, args: string[]): Promise<void> {
  const { values } = parse(args, {}, { min: 0, max: 0, names: '' });
  const { client, out } = session(io, values);
  const all: ApiKey[] = [];
  for await (const key of client.paginate('/api-keys')) all.push(key);
  out.result({ data: all }, () =>
    table(
      ['ID', 'NAME', 'SCOPES', 'KEY', 'CREATED', 'LAST USED', 'STATE'],
      all.map((key) => [key.id, key.name, key.scopes.join(','), `${key.prefix}…${key.last_four}`, key.created_at, key.last_used_at ?? '-', state(key)]),
    ),
  );
}

async function revoke(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {}, { min: 1, max: 1, names: 'the key id (key_…)' });
  const id = positionals[0] ?? '';
  const { client, out } = session(io, values);
  await client.DELETE('/api-keys/{id}', { params: { path: { id } } });
  out.result({ id, revoked: true }, () => `revoked ${id}`);
}

async function roll(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { grace: { type: 'string' }, 'retire-old-on-first-use': { type: 'boolean' } },
    { min: 1, max: 1, names: 'the key id (key_…)' },
  );
  const id = positionals[0] ?? '';
  const onFirstUse = values['retire-old-on-first-use'] === true;
  const grace = wholeNumber(values.grace, '--grace', onFirstUse ? 1 : 0, MAX_GRACE_SECONDS);
  const body: RollApiKeyBody = onFirstUse ? { retire_old: 'on_first_use', ...(grace === undefined ? {} : { expires_in_seconds: grace }) } : { expires_in_seconds: grace ?? 0 };
  const { client, out } = session(io, values);
  const rolled = await unwrap(client.POST('/api-keys/{id}/roll', { params: { path: { id } }, body }));
  if (onFirstUse) out.note(`new secret for ${id}; the old one works until the new one is first used, or ${grace === undefined ? '7 days' : `${grace} s`} at most`);
  else out.note(grace ? `new secret for ${id}; the old one works for ${grace} s more` : `new secret for ${id}; the old one is refused from now on`);
  out.result(rolled, () => rolled.key);
}

function state(key: ApiKey): string {
  if (key.revoked_at) return `revoked ${key.revoked_at}`;
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return `expired ${key.expires_at}`;
  const canary = key.canary ? 'canary, ' : '';
  return key.expires_at ? `${canary}active until ${key.expires_at}` : `${canary}active`;
}
