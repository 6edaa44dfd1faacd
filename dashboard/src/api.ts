import { createClient, SkaledataConnectionError, SkaledataProblem, type SkaledataClient } from '../../src/sdk/index.js';
import type { Credential } from './session.js';

/** The typed SDK, calling this origin with the signed-in credential. */
export function clientFor(credential: Credential): SkaledataClient {
  const auth = credential.kind === 'session' ? { token: credential.token } : { apiKey: credential.key };
  return createClient({ baseUrl: window.location.origin, ...auth });
}

/**
 * What the user reads when a call fails: the problem's own `detail` (the seed's "API key missing
 * required scope: …" included, word for word), and each field the validation named.
 */
export function errorText(error: unknown): string {
  if (error instanceof SkaledataProblem) {
    return withFields(error.detail, error.errors);
  }
  if (error instanceof SkaledataConnectionError) return `The API did not answer (${error.message}).`;
  return error instanceof Error ? error.message : String(error);
}

/** The detail, then each field error it does not already spell out. */
export function withFields(detail: string, fields: ReadonlyArray<{ path: string; message: string }>): string {
  const lines = fields.map((field) => `${field.path || 'request'}: ${field.message}`).filter((line) => !detail.includes(line));
  return [detail, ...lines].join('\n');
}

/** A session that has ended (401) sends the user back to sign in; any other error is shown where it happened. */
export function isSignedOut(error: unknown): boolean {
  return error instanceof SkaledataProblem && error.status === 401;
}
