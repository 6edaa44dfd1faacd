import { useState } from 'preact/hooks';
import { SCOPE_PRESETS, type ApiKeyWithSecret, type CreateApiKeyBody, type Scope, type SkaledataClient } from '../../../src/sdk/index.js';
import { errorText } from '../api.js';
import { Dialog, ErrorMessage, ScopeList, useLoad } from '../components.js';

type Purpose = keyof typeof SCOPE_PRESETS | 'full' | 'custom';

const EXPIRIES = [
  { value: 'never', label: 'Never' },
  { value: '7', label: 'In 7 days' },
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In a year' },
  { value: 'date', label: 'On a date…' },
] as const;

/** The end of a local calendar day (from an `<input type=date>`), as an instant. */
function endOfDay(date: string): string {
  return new Date(`${date}T23:59:59`).toISOString();
}

interface Props {
  client: SkaledataClient;
  open: boolean;
  onClose: () => void;
  onCreated: (key: ApiKeyWithSecret) => void;
}

/**
 * Create a key from a purpose (the seed's four "Scope combinations"), full access, or scopes picked one
 * by one with the seed's words for each; an expiry; and the restrictions of CONTRACT §7.
 */
export function CreateKeyDialog({ client, open, onClose, onCreated }: Props) {
  return (
    <Dialog title="Create an API key" labelId="create-title" open={open} onClose={onClose}>
      <CreateKeyForm client={client} onCancel={onClose} onCreated={onCreated} />
    </Dialog>
  );
}

function CreateKeyForm({ client, onCancel, onCreated }: { client: SkaledataClient; onCancel: () => void; onCreated: (key: ApiKeyWithSecret) => void }) {
  const [purpose, setPurpose] = useState<Purpose>('ci-deploy');
  const [custom, setCustom] = useState<Set<Scope>>(new Set());
  const [expiry, setExpiry] = useState<string>('90');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [fenced, setFenced] = useState(false);
  const catalogue = useLoad(async () => (await client.GET('/scopes')).data?.data ?? [], []);
  const resources = useLoad(
    async () => {
      if (!fenced) return { clusters: [], apps: [] };
      const [clusters, apps] = await Promise.all([client.GET('/clusters', { params: { query: { limit: 200 } } }), client.GET('/apps', { params: { query: { limit: 200 } } })]);
      return { clusters: clusters.data?.data ?? [], apps: apps.data?.data ?? [] };
    },
    [fenced],
  );

  const scopes: Scope[] = purpose === 'full' ? ['full'] : purpose === 'custom' ? [...custom] : [...SCOPE_PRESETS[purpose].scopes];

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const body: CreateApiKeyBody = { name: text('name'), scopes };
    if (expiry === 'date') {
      if (text('expires-on') === '') return setError('Choose the day the key expires.');
      body.expires_at = endOfDay(text('expires-on'));
    } else if (expiry !== 'never') {
      body.expires_at = new Date(Date.now() + Number(expiry) * 86_400_000).toISOString();
    }
    const ips = text('allowed-ips').split(/[\s,]+/).filter(Boolean);
    if (ips.length > 0) body.allowed_ips = ips;
    if (fenced) body.resources = { clusters: form.getAll('cluster').map(String), apps: form.getAll('app').map(String) };
    if (text('rate-requests') !== '' || text('rate-seconds') !== '') body.rate_limit = { requests: Number(text('rate-requests')), per_seconds: Number(text('rate-seconds')) };
    const lapses = Object.fromEntries(scopes.filter((scope) => text(`lapse-${scope}`) !== '').map((scope) => [scope, new Date(text(`lapse-${scope}`)).toISOString()]));
    if (Object.keys(lapses).length > 0) body.scope_expires_at = lapses;
    if (form.get('canary') === 'on') body.canary = true;
    setBusy(true);
    setError(null);
    try {
      const { data } = await client.POST('/api-keys', { body });
      if (data !== undefined) onCreated(data);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (scope: Scope, on: boolean) =>
    setCustom((previous) => {
      const next = new Set(previous);
      if (on) next.add(scope);
      else next.delete(scope);
      return next;
    });

  return (
    <form onSubmit={submit} class="stack">
      <ErrorMessage error={error} />
      <label for="key-name">Name</label>
      <input id="key-name" name="name" required maxLength={100} placeholder="e.g. github-actions-deploy" aria-describedby="key-name-help" />
      <p id="key-name-help" class="help">
        What uses the key, so you recognise it in the list and in the audit trail.
      </p>

      <fieldset>
        <legend>What is the key for?</legend>
        {(Object.keys(SCOPE_PRESETS) as Array<keyof typeof SCOPE_PRESETS>).map((name) => (
          <div class="choice" key={name}>
            <input type="radio" id={`purpose-${name}`} name="purpose" value={name} checked={purpose === name} onChange={() => setPurpose(name)} />
            <label for={`purpose-${name}`}>
              {SCOPE_PRESETS[name].useCase} <ScopeList scopes={SCOPE_PRESETS[name].scopes} />
            </label>
          </div>
        ))}
        <div class="choice">
          <input type="radio" id="purpose-full" name="purpose" value="full" checked={purpose === 'full'} onChange={() => setPurpose('full')} />
          <label for="purpose-full">
            Full access <ScopeList scopes={['full']} />
          </label>
        </div>
        <div class="choice">
          <input type="radio" id="purpose-custom" name="purpose" value="custom" checked={purpose === 'custom'} onChange={() => setPurpose('custom')} />
          <label for="purpose-custom">Choose scopes one by one</label>
        </div>
      </fieldset>

      {purpose === 'custom' ? (
        <fieldset>
          <legend>Scopes</legend>
          <ErrorMessage error={catalogue.error === null ? null : errorText(catalogue.error)} />
          {(catalogue.data ?? []).map((scope) => (
            <div class="choice" key={scope.name}>
              <input type="checkbox" id={`scope-${scope.name}`} checked={custom.has(scope.name as Scope)} onChange={(event) => toggle(scope.name as Scope, (event.currentTarget as HTMLInputElement).checked)} aria-describedby={`scope-${scope.name}-help`} />
              <label for={`scope-${scope.name}`}>
                <code>{scope.name}</code>
              </label>
              <p id={`scope-${scope.name}-help`} class="help">
                {scope.description}
              </p>
            </div>
          ))}
        </fieldset>
      ) : null}

      <label for="key-expiry">Expires</label>
      <select id="key-expiry" value={expiry} onChange={(event) => setExpiry((event.currentTarget as HTMLSelectElement).value)}>
        {EXPIRIES.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
      {expiry === 'date' ? (
        <>
          <label for="expires-on">Expires at the end of</label>
          <input id="expires-on" name="expires-on" type="date" required />
        </>
      ) : null}

      <details>
        <summary>Restrictions (optional)</summary>
        <div class="stack">
          <label for="allowed-ips">Allowed client addresses</label>
          <textarea id="allowed-ips" name="allowed-ips" rows={2} placeholder="203.0.113.0/24" aria-describedby="allowed-ips-help" />
          <p id="allowed-ips-help" class="help">
            CIDRs, one per line (IPv4 or IPv6, at most 50). Empty: any address.
          </p>

          <fieldset>
            <legend>Rate limit</legend>
            <label for="rate-requests">Requests</label>
            <input id="rate-requests" name="rate-requests" type="number" min={1} inputMode="numeric" />
            <label for="rate-seconds">per seconds</label>
            <input id="rate-seconds" name="rate-seconds" type="number" min={1} inputMode="numeric" />
            <p class="help">Empty: the server's default for keys.</p>
          </fieldset>

          <div class="choice">
            <input type="checkbox" id="fenced" checked={fenced} onChange={(event) => setFenced((event.currentTarget as HTMLInputElement).checked)} />
            <label for="fenced">Only these clusters and apps (an app comes with its cluster)</label>
          </div>
          {fenced ? (
            <fieldset>
              <legend>Resources the key may see</legend>
              <ErrorMessage error={resources.error === null ? null : errorText(resources.error)} />
              {resources.data?.clusters.length === 0 && resources.data.apps.length === 0 ? <p class="help">This account has no clusters or apps yet.</p> : null}
              {(resources.data?.clusters ?? []).map((cluster) => (
                <div class="choice" key={cluster.id}>
                  <input type="checkbox" id={`cluster-${cluster.id}`} name="cluster" value={cluster.id} />
                  <label for={`cluster-${cluster.id}`}>Cluster {cluster.name}</label>
                </div>
              ))}
              {(resources.data?.apps ?? []).map((app) => (
                <div class="choice" key={app.id}>
                  <input type="checkbox" id={`app-${app.id}`} name="app" value={app.id} />
                  <label for={`app-${app.id}`}>App {app.name}</label>
                </div>
              ))}
            </fieldset>
          ) : null}

          {scopes.length > 0 && !scopes.includes('full') ? (
            <fieldset>
              <legend>Scopes that lapse before the key</legend>
              {scopes.map((scope) => (
                <div key={scope}>
                  <label for={`lapse-${scope}`}>
                    <code>{scope}</code> lapses at
                  </label>
                  <input id={`lapse-${scope}`} name={`lapse-${scope}`} type="datetime-local" />
                </div>
              ))}
            </fieldset>
          ) : null}

          <div class="choice">
            <input type="checkbox" id="canary" name="canary" aria-describedby="canary-help" />
            <label for="canary">Canary (tripwire) key</label>
            <p id="canary-help" class="help">
              Never works: every use is refused like an unknown key and raises the event api_key.canary_used. Plant it where a leak would be
              found.
            </p>
          </div>
        </div>
      </details>

      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          Create key
        </button>
      </div>
    </form>
  );
}
