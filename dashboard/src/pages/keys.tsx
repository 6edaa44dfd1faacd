import { useEffect, useState } from 'preact/hooks';
import type { ApiKey } from '../../../src/sdk/index.js';
import { errorText, isSignedOut } from '../api.js';
import { ErrorMessage, Loading, ScopeList, StatusBadge, useLoad } from '../components.js';
import { relative, when } from '../format.js';
import type { PageProps } from '../main.js';
import { CreateKeyDialog } from './key-create.js';
import { SecretDialog } from './secret-dialog.js';

/** What a key is now: revoked (and why), expired, a canary, or active. */
export function keyStatus(key: ApiKey, now = Date.now()): string {
  if (key.revoked_at !== null) return key.revoked_reason === 'revoked' || key.revoked_reason === null ? 'revoked' : key.revoked_reason;
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now) return 'expired';
  return key.canary ? 'canary' : 'active';
}

/** The restrictions of CONTRACT §7 a key carries, in a few words each. */
export function restrictionsOf(key: ApiKey): string[] {
  const out: string[] = [];
  if (key.allowed_ips !== null) out.push(`IPs: ${key.allowed_ips.join(', ')}`);
  if (key.resources !== null) out.push(`Only ${key.resources.clusters.length} cluster(s), ${key.resources.apps.length} app(s)`);
  if (key.rate_limit !== null) out.push(`${key.rate_limit.requests} requests / ${key.rate_limit.per_seconds} s`);
  for (const [scope, at] of Object.entries(key.scope_expires_at ?? {})) out.push(`${scope} lapses ${when(at)}`);
  return out;
}

export function KeysPage({ client, onSignedOut }: PageProps) {
  const [pages, setPages] = useState<ApiKey[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const first = useLoad(async () => {
    const { data } = await client.GET('/api-keys', { params: { query: { limit: 50 } } });
    setPages([data?.data ?? []]);
    setCursor(data?.next_cursor ?? null);
    return true;
  }, []);
  const [moreError, setMoreError] = useState<string | null>(null);
  useEffect(() => {
    if (isSignedOut(first.error)) onSignedOut(errorText(first.error));
  }, [first.error]);

  const loadMore = async () => {
    if (cursor === null) return;
    try {
      const { data } = await client.GET('/api-keys', { params: { query: { limit: 50, cursor } } });
      setPages((previous) => [...previous, data?.data ?? []]);
      setCursor(data?.next_cursor ?? null);
    } catch (failure) {
      setMoreError(errorText(failure));
    }
  };
  const keys = pages.flat();

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>API keys</h1>
        <button type="button" onClick={() => setCreating(true)}>
          Create API key
        </button>
      </div>
      <p class="muted">Keys let CI pipelines, dashboards and bots call the API with only the scopes they need. A key's secret is shown once, when it is made.</p>
      <ErrorMessage error={first.error === null ? null : errorText(first.error)} />
      {first.loading && keys.length === 0 ? <Loading what="API keys" /> : null}
      {!first.loading && first.error === null && keys.length === 0 ? <p>No API keys yet.</p> : null}
      {keys.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">API keys of this account</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Key</th>
                <th scope="col">Created by</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Restrictions</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id} data-key-id={key.id}>
                  <th scope="row">
                    <a href={`#/keys/${encodeURIComponent(key.id)}`}>{key.name}</a>
                  </th>
                  <td>
                    <ScopeList scopes={key.scopes} />
                  </td>
                  <td>
                    <code>
                      {key.prefix}…{key.last_four}
                    </code>
                  </td>
                  <td>
                    <code>{key.created_by}</code>
                  </td>
                  <td title={when(key.last_used_at)}>{relative(key.last_used_at)}</td>
                  <td>{key.expires_at === null ? 'never' : when(key.expires_at)}</td>
                  <td>{restrictionsOf(key).join('; ') || '—'}</td>
                  <td>
                    <StatusBadge status={keyStatus(key)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ErrorMessage error={moreError} />
      {cursor !== null ? (
        <button type="button" class="secondary" onClick={loadMore}>
          Load more
        </button>
      ) : null}
      <CreateKeyDialog
        client={client}
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false);
          setCreated({ name: key.name, secret: key.key });
          first.reload();
        }}
      />
      <SecretDialog secret={created?.secret ?? null} keyName={created?.name ?? ''} onClose={() => setCreated(null)} />
    </>
  );
}
