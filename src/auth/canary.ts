/**
 * Canary keys (CONTRACT §7): tripwire keys whose every use is answered exactly like an unknown key and
 * reported. The authenticator says which canary it refused; its callers, who hold the request, report it.
 */

/**
 * A canary key was presented (CONTRACT §7). The caller was answered exactly as for an unknown key; this
 * says which tripwire it was, so the caller can report the use with the request's address and route.
 */
export interface CanaryTrip {
  readonly type: 'canary';
  readonly keyId: string;
  readonly accountId: string;
}

/** The request a canary was presented on, as far as its event records it (a FastifyRequest is one). */
export interface CanaryRequest {
  readonly ip: string;
  readonly method: string;
  readonly url: string;
  readonly headers: { readonly 'user-agent'?: string | undefined };
  /** The matched route (`url`: its template, `/clusters/:id`); no url when no route matched. */
  readonly routeOptions?: { readonly url?: string | undefined } | undefined;
}

/** Where the callers of the authenticator report a canary's use, after answering it (modules/api-keys/canary-alarm.ts). */
export interface CanaryReporter {
  /** Notes the use in memory; never throws, never waits. */
  trip(trip: CanaryTrip, request: CanaryRequest): void;
}
