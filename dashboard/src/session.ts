/**
 * Who the dashboard calls the API as. A user session (the development sign-in's token, or Clerk's) is
 * kept in this tab's sessionStorage so a reload keeps you signed in; an API key is kept in memory only,
 * so it is gone with the page (a key is a long-lived secret; a session token expires within the hour).
 */
export type Credential =
  | { kind: 'session'; token: string; email: string; expiresAt: string }
  | { kind: 'api_key'; key: string };

const STORAGE_KEY = 'skaledata.session';

export function loadSession(): Credential | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (raw === null) return null;
    const parsed = JSON.parse(raw) as Partial<{ token: string; email: string; expiresAt: string }>;
    if (typeof parsed.token !== 'string' || typeof parsed.expiresAt !== 'string') return null;
    if (Date.parse(parsed.expiresAt) <= Date.now()) return null;
    return { kind: 'session', token: parsed.token, email: parsed.email ?? '', expiresAt: parsed.expiresAt };
  } catch {
    return null;
  }
}

export function saveCredential(credential: Credential): void {
  if (credential.kind === 'session') {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ token: credential.token, email: credential.email, expiresAt: credential.expiresAt }));
  } else {
    sessionStorage.removeItem(STORAGE_KEY);
  }
}

export function forgetCredential(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
