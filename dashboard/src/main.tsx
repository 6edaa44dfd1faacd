import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Me } from '../../src/sdk/index.js';
import { clientFor, errorText, isSignedOut } from './api.js';
import { ErrorMessage } from './components.js';
import { AppsPage, ClustersPage, JobPage, JobsPage } from './pages/resources.js';
import { KeyPage } from './pages/key-detail.js';
import { KeysPage } from './pages/keys.js';
import { SignInPage } from './pages/sign-in.js';
import { forgetCredential, loadSession, saveCredential, type Credential } from './session.js';
import './styles.css';

/** Hash routes (`#/keys/key_…`): the API owns every real path, so the page never collides with one. */
function useRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const NAV = [
  { path: 'keys', label: 'API keys' },
  { path: 'clusters', label: 'Clusters' },
  { path: 'apps', label: 'Apps' },
  { path: 'jobs', label: 'Jobs' },
] as const;

export interface PageProps {
  client: ReturnType<typeof clientFor>;
  me: Me;
  /** A 401 from any call: the credential is no longer good. */
  onSignedOut: (reason: string) => void;
}

function App() {
  const [credential, setCredential] = useState<Credential | null>(loadSession);
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const client = useMemo(() => (credential === null ? null : clientFor(credential)), [credential]);
  const route = useRoute();

  const signOut = (reason: string | null) => {
    forgetCredential();
    setCredential(null);
    setMe(null);
    setNotice(reason);
  };

  useEffect(() => {
    if (client === null) return;
    client.GET('/me').then(
      ({ data }) => data !== undefined && setMe(data),
      (failure: unknown) => (isSignedOut(failure) ? signOut(`Signed out: ${errorText(failure)}`) : setError(errorText(failure))),
    );
  }, [client]);

  // A session token ends within the hour: sign out when it does, rather than fail call by call.
  useEffect(() => {
    if (credential?.kind !== 'session') return;
    const timer = setTimeout(() => signOut('Your session ended; sign in again.'), Math.max(0, Date.parse(credential.expiresAt) - Date.now()));
    return () => clearTimeout(timer);
  }, [credential]);

  if (credential === null || client === null) {
    return (
      <SignInPage
        notice={notice}
        onSignedIn={(next) => {
          saveCredential(next);
          setNotice(null);
          setError(null);
          setCredential(next);
          if (window.location.hash === '') window.location.hash = '#/keys';
        }}
      />
    );
  }
  if (me === null) {
    return (
      <main id="main">
        <ErrorMessage error={error} />
        {error === null ? <p role="status">Signing in…</p> : <button onClick={() => signOut(null)}>Back to sign-in</button>}
      </main>
    );
  }

  const [section = 'keys', id] = route;
  const props: PageProps = { client, me, onSignedOut: (reason) => signOut(`Signed out: ${reason}`) };
  return (
    <>
      <header class="top">
        <span class="brand">SkaleData</span>
        <nav aria-label="Sections">
          <ul>
            {NAV.map((item) => (
              <li key={item.path}>
                <a href={`#/${item.path}`} aria-current={section === item.path ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>{describe(me)}</span>
          <button class="secondary" onClick={() => signOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <Page key={`${section}/${id ?? ''}`} section={section} id={id} {...props} />
    </>
  );
}

function Page(props: PageProps & { section: string; id: string | undefined }) {
  const main = useRef<HTMLElement>(null);
  // A new page: its heading is where keyboard and screen-reader users land.
  useEffect(() => main.current?.querySelector('h1')?.focus(), []);
  const { section, id } = props;
  const content =
    section === 'keys' && id !== undefined ? (
      <KeyPage {...props} id={id} />
    ) : section === 'keys' ? (
      <KeysPage {...props} />
    ) : section === 'clusters' ? (
      <ClustersPage {...props} />
    ) : section === 'apps' ? (
      <AppsPage {...props} />
    ) : section === 'jobs' && id !== undefined ? (
      <JobPage {...props} id={id} />
    ) : section === 'jobs' ? (
      <JobsPage {...props} />
    ) : (
      <>
        <h1 tabIndex={-1}>Not found</h1>
        <p>
          There is no page here. Go to <a href="#/keys">API keys</a>.
        </p>
      </>
    );
  return (
    <main id="main" ref={main}>
      {content}
    </main>
  );
}

function describe(me: Me): string {
  const who = me.type === 'user' ? (me.email ?? me.user_id) : `API key ${me.api_key?.name ?? ''}`;
  return `${who} · ${me.account_id}`;
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
