import { useState } from 'preact/hooks';
import { withFields } from '../api.js';
import { ErrorMessage } from '../components.js';
import type { Credential } from '../session.js';

interface DevSession {
  token: string;
  email: string;
  expires_at: string;
}

/**
 * Sign-in. With the local development issuer (no CLERK_JWT_KEY on the server), an email and an
 * optional organisation are enough: `POST /dev/sign-in` mints the session token `skaledata dev-token`
 * would. An API key can be used instead, to see the dashboard exactly as that key sees the API.
 */
export function SignInPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (credential: Credential) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const devSignIn = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const email = String(form.get('email') ?? '').trim();
    const org = String(form.get('org') ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      const response = await fetch('/dev/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(org === '' ? { email } : { email, org_id: org }),
      });
      if (response.status === 404) {
        setError('Development sign-in is off on this server: it verifies Clerk sessions (CLERK_JWT_KEY is set).');
        return;
      }
      const body = (await response.json()) as Partial<DevSession> & { detail?: string; errors?: Array<{ path: string; message: string }> };
      if (!response.ok || typeof body.token !== 'string' || typeof body.expires_at !== 'string') {
        setError(withFields(body.detail ?? `Sign-in failed (${response.status}).`, body.errors ?? []));
        return;
      }
      onSignedIn({ kind: 'session', token: body.token, email: body.email ?? email, expiresAt: body.expires_at });
    } catch (failure) {
      setError(`The API did not answer (${failure instanceof Error ? failure.message : String(failure)}).`);
    } finally {
      setBusy(false);
    }
  };

  const keySignIn = (event: Event) => {
    event.preventDefault();
    const key = String(new FormData(event.currentTarget as HTMLFormElement).get('key') ?? '').trim();
    if (!key.startsWith('skd_')) {
      setError('An API key starts with skd_.');
      return;
    }
    onSignedIn({ kind: 'api_key', key });
  };

  return (
    <main id="main" class="sign-in">
      <h1>Sign in to SkaleData</h1>
      {notice !== null ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorMessage error={error} />
      <section aria-labelledby="dev-heading" class="card">
        <h2 id="dev-heading">Development sign-in</h2>
        <p class="muted">
          This server's local development issuer signs you in by email alone: the same email is the same user every time. It is on
          only while the server has no <code>CLERK_JWT_KEY</code>, and answers only this machine.
        </p>
        <form onSubmit={devSignIn}>
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="email" required placeholder="you@example.com" />
          <label for="org">
            Organisation id <span class="muted">(optional)</span>
          </label>
          <input id="org" name="org" type="text" pattern="org_[A-Za-z0-9_\-]{1,60}" placeholder="org_…" aria-describedby="org-help" />
          <p id="org-help" class="help">
            Act in an organisation's account instead of your personal one.
          </p>
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      </section>
      <section aria-labelledby="key-heading" class="card">
        <h2 id="key-heading">Use an API key</h2>
        <p class="muted">See what a key can see: every page asks the API with the key, and shows what it refuses. The key stays in this page's memory only.</p>
        <form onSubmit={keySignIn}>
          <label for="api-key">API key</label>
          <input id="api-key" name="key" type="password" autocomplete="off" required placeholder="skd_…" />
          <button type="submit">Use this key</button>
        </form>
      </section>
    </main>
  );
}
