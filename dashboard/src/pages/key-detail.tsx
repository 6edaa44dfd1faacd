import { useEffect, useState } from 'preact/hooks';
import type { ApiKey, RollApiKeyBody, SkaledataClient } from '../../../src/sdk/index.js';
import { errorText, isSignedOut } from '../api.js';
import { Dialog, ErrorMessage, Loading, ScopeList, StatusBadge, useLoad } from '../components.js';
import { relative, when } from '../format.js';
import type { PageProps } from '../main.js';
import { keyStatus, restrictionsOf } from './keys.js';
import { SecretDialog } from './secret-dialog.js';

const GRACES: Array<{ value: string; label: string; body: RollApiKeyBody }> = [
  { value: 'now', label: 'Refuse the old secret at once', body: { expires_in_seconds: 0 } },
  { value: 'hour', label: 'Keep the old secret working for 1 hour', body: { expires_in_seconds: 3600 } },
  { value: 'day', label: 'Keep the old secret working for 24 hours', body: { expires_in_seconds: 86_400 } },
  { value: 'first-use', label: 'Keep the old secret until the new one is first used (at most 7 days)', body: { retire_old: 'on_first_use' } },
];

/** One key: what it is, revoke, roll, and what it has been doing. */
export function KeyPage({ client, id, onSignedOut }: PageProps & { id: string }) {
  const key = useLoad(async () => (await client.GET('/api-keys/{id}', { params: { path: { id } } })).data ?? null, [id]);
  const [dialog, setDialog] = useState<'revoke' | 'roll' | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    if (isSignedOut(key.error)) onSignedOut(errorText(key.error));
  }, [key.error]);

  if (key.loading && key.data === null) return <Loading what="the key" />;
  if (key.data === null) {
    return (
      <>
        <h1 tabIndex={-1}>API key</h1>
        <ErrorMessage error={key.error === null ? 'No such key.' : errorText(key.error)} />
        <p>
          <a href="#/keys">All API keys</a>
        </p>
      </>
    );
  }
  const current: ApiKey = key.data;
  const status = keyStatus(current);
  const live = current.revoked_at === null;
  return (
    <>
      <p>
        <a href="#/keys">← All API keys</a>
      </p>
      <div class="page-head">
        <h1 tabIndex={-1}>{current.name}</h1>
        <StatusBadge status={status} />
      </div>
      {notice !== null ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <dl class="facts">
        <dt>Key</dt>
        <dd>
          <code>
            {current.prefix}…{current.last_four}
          </code>
        </dd>
        <dt>Scopes</dt>
        <dd>
          <ScopeList scopes={current.scopes} />
        </dd>
        <dt>Created</dt>
        <dd>
          {when(current.created_at)} by <code>{current.created_by}</code>
        </dd>
        <dt>Last used</dt>
        <dd>{current.last_used_at === null ? 'never' : `${relative(current.last_used_at)} (${when(current.last_used_at)})`}</dd>
        <dt>Expires</dt>
        <dd>{current.expires_at === null ? 'never' : when(current.expires_at)}</dd>
        <dt>Restrictions</dt>
        <dd>{restrictionsOf(current).join('; ') || 'none'}</dd>
        {current.revoked_at !== null ? (
          <>
            <dt>Revoked</dt>
            <dd>
              {when(current.revoked_at)} ({current.revoked_reason ?? 'revoked'})
            </dd>
          </>
        ) : null}
      </dl>
      {live ? (
        <div class="actions start">
          <button type="button" onClick={() => setDialog('roll')}>
            Roll secret…
          </button>
          <button type="button" class="danger" onClick={() => setDialog('revoke')}>
            Revoke…
          </button>
        </div>
      ) : null}

      <RevokeDialog
        client={client}
        apiKey={current}
        open={dialog === 'revoke'}
        onClose={() => setDialog(null)}
        onRevoked={() => {
          setDialog(null);
          setNotice(`${current.name} is revoked: every request made with it is refused from now on.`);
          key.reload();
        }}
      />
      <RollDialog
        client={client}
        apiKey={current}
        open={dialog === 'roll'}
        onClose={() => setDialog(null)}
        onRolled={(newSecret) => {
          setDialog(null);
          setSecret(newSecret);
          key.reload();
        }}
      />
      <SecretDialog secret={secret} keyName={current.name} onClose={() => setSecret(null)} />
      <Usage client={client} id={id} />
      <Activity client={client} id={id} />
    </>
  );
}

function RevokeDialog(props: { client: SkaledataClient; apiKey: ApiKey; open: boolean; onClose: () => void; onRevoked: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.client.DELETE('/api-keys/{id}', { params: { path: { id: props.apiKey.id } } });
      props.onRevoked();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Revoke “${props.apiKey.name}”?`} labelId="revoke-title" open={props.open} onClose={props.onClose}>
      <ErrorMessage error={error} />
      <p>Every request made with this key will be refused from the next one on. This cannot be undone: a revoked key never works again.</p>
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose} autofocus>
          Cancel
        </button>
        <button type="button" class="danger" onClick={revoke} disabled={busy}>
          Revoke key
        </button>
      </div>
    </Dialog>
  );
}

function RollDialog(props: { client: SkaledataClient; apiKey: ApiKey; open: boolean; onClose: () => void; onRolled: (secret: string) => void }) {
  const [grace, setGrace] = useState('now');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const roll = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = GRACES.find((choice) => choice.value === grace)?.body ?? {};
      const { data } = await props.client.POST('/api-keys/{id}/roll', { params: { path: { id: props.apiKey.id } }, body });
      if (data !== undefined) props.onRolled(data.key);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Roll the secret of “${props.apiKey.name}”`} labelId="roll-title" open={props.open} onClose={props.onClose}>
      <form onSubmit={roll} class="stack">
        <ErrorMessage error={error} />
        <p>The key gets a new secret; its name, scopes and restrictions stay. Choose how long the old secret keeps working, so what uses it can switch over.</p>
        <fieldset>
          <legend>The old secret</legend>
          {GRACES.map((choice) => (
            <div class="choice" key={choice.value}>
              <input type="radio" id={`grace-${choice.value}`} name="grace" value={choice.value} checked={grace === choice.value} onChange={() => setGrace(choice.value)} />
              <label for={`grace-${choice.value}`}>{choice.label}</label>
            </div>
          ))}
        </fieldset>
        <div class="actions">
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Roll secret
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function Usage({ client, id }: { client: SkaledataClient; id: string }) {
  const usage = useLoad(async () => (await client.GET('/api-keys/{id}/usage', { params: { path: { id }, query: {} } })).data ?? null, [id]);
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Scopes it needs</h2>
      <ErrorMessage error={usage.error === null ? null : errorText(usage.error)} />
      {usage.data === null ? null : usage.data.requests === 0 ? (
        <p>No requests in the last {usage.data.days} days.</p>
      ) : (
        <>
          <p>
            {usage.data.requests === 1 ? '1 request' : `${usage.data.requests} requests`} in the last {usage.data.days} days. The smallest set of scopes that would have allowed every successful one:
          </p>
          {usage.data.suggested_scopes.length === 0 ? <p>none (only routes that need no scope)</p> : <ScopeList scopes={usage.data.suggested_scopes} />}
          {usage.data.scopes_never_used.length > 0 ? (
            <div>
              <p>Scopes it never used:</p>
              <ScopeList scopes={usage.data.scopes_never_used} />
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}

function Activity({ client, id }: { client: SkaledataClient; id: string }) {
  const activity = useLoad(async () => (await client.GET('/api-keys/{id}/activity', { params: { path: { id }, query: { limit: 50 } } })).data?.data ?? [], [id]);
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Recent activity</h2>
      <ErrorMessage error={activity.error === null ? null : errorText(activity.error)} />
      {activity.data !== null && activity.data.length === 0 ? <p>No requests yet.</p> : null}
      {activity.data !== null && activity.data.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">The key's latest requests</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Refusal</th>
                <th scope="col">Client</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {activity.data.map((entry) => (
                <tr key={entry.id}>
                  <td>{when(entry.at)}</td>
                  <td>
                    <code>
                      {entry.method} {entry.route}
                    </code>
                  </td>
                  <td>{entry.status}</td>
                  <td>{entry.code === null ? '—' : entry.missing_scope === null ? entry.code : `${entry.code}: ${entry.missing_scope}`}</td>
                  <td>{entry.client_ip ?? '—'}</td>
                  <td>{entry.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
