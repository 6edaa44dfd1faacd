import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Authentication, Authenticator } from '../../auth/authenticator.js';
import type { CanaryReporter, CanaryTrip } from '../../auth/canary.js';
import { publicRoute } from '../../auth/scopes.js';
import type { Config } from '../../config.js';
import { AppError, basicChallenge, refusalError, validationFailed } from '../../http/errors.js';
import { principalOf, repeatsAuthorization } from '../../http/auth-gate.js';
import { addressRefusal, REPEATED_AUTHORIZATION, TOO_MANY_INVALID_CREDENTIALS } from '../../auth/decision.js';
import type { RequestLimits } from '../../http/rate-limits.js';
import { tagRequestLog } from '../../http/request-log.js';
import type { ModuleDeps } from '../module.js';
import type { SigningKeyStore } from '../signing-keys/signing-key-store.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import { parseScopes, ScopeError } from './registry-scope.js';
import { RealmToken, RegistryTokenQuery } from './registry-schemas.js';
import { createRegistryService } from './registry-service.js';

const tags = ['Registry'];

export const REGISTRY_REALM_PATH = '/registry/token';

/** The password of `Authorization: Basic …` (what `docker login -u <anything> --password-stdin` sends), or a Bearer token as is. */
function credentialOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^[ \t]*basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return /^[ \t]*bearer[ \t]/i.test(header) ? header : '';
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? '' : `Bearer ${decoded.slice(colon + 1)}`;
}

function authenticated(authenticate: Authenticator, authorization: string | undefined): Promise<{ result: Authentication; canary: CanaryTrip | undefined }> {
  return new Promise((resolve, reject) => authenticate(authorization, (result, canary) => resolve({ result, canary }), reject));
}

/**
 * The token realm of the Docker registry token protocol (distribution's token spec): a stock
 * registry configured with `auth.token.realm` sends docker/podman/skopeo here with the credentials
 * they were given, and verifies what we sign with the certificates of /.well-known/registry-certs.pem.
 */
export function registerRegistryRoutes(
  root: FastifyInstance,
  deps: ModuleDeps & { authenticate: Authenticator; canaries: CanaryReporter; limits: RequestLimits; issuer: TokenIssuer; signingKeys: SigningKeyStore; config: Pick<Config, 'registryService'> },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createRegistryService({ db: deps.database.db, issuer: deps.issuer, now: () => deps.clock.now().getTime() });
  const registryService = deps.config.registryService;

  async function principalFor(request: FastifyRequest) {
    // As on every route (auth-gate.ts): a proxy keeping another of several headers would judge another credential.
    if (repeatsAuthorization(request.raw.rawHeaders)) throw new AppError('invalid_request', REPEATED_AUTHORIZATION.detail);
    // The throttle of invalid credentials per address (AUTH_FAILURE_LIMIT), as in the gate: before any lookup.
    if (request.headers.authorization !== undefined) {
      const wait = deps.limits.throttledFor(request);
      if (wait > 0) throw new AppError('rate_limited', TOO_MANY_INVALID_CREDENTIALS.detail, {}, { 'retry-after': String(wait) });
    }
    const credential = credentialOf(request.headers.authorization);
    const { result, canary } = await authenticated(deps.authenticate, credential === '' ? 'Basic' : credential);
    if (result.type === 'refusal') {
      if (result.code === 'invalid_token') deps.limits.noteInvalidCredential(request.ip);
      // Noted in memory only, written after the answer (canary-alarm.ts): the refusal below is an unknown key's.
      if (canary !== undefined) deps.canaries.trip(canary, request);
      const code = result.code === 'invalid_token' ? 'invalid_token' : 'unauthenticated';
      const detail =
        code === 'invalid_token'
          ? 'The credentials are invalid, expired or revoked.'
          : 'Log in with an API key (or a session token) as the password: docker login -u <anything> --password-stdin.';
      throw new AppError(code, detail, {}, basicChallenge());
    }
    tagRequestLog(request.log, result);
    const misplaced = addressRefusal(result, request);
    if (misplaced !== null) throw refusalError(misplaced);
    return result;
  }

  app.get(
    REGISTRY_REALM_PATH,
    {
      // Public to the gate (it speaks Bearer): the handler authenticates the Basic credentials itself.
      config: { auth: publicRoute, problems: ['invalid_request', 'unauthenticated', 'invalid_token', 'ip_not_allowed', 'rate_limited', 'validation_failed', 'service_unavailable', 'storage_error'] },
      schema: {
        operationId: 'getRegistryToken',
        tags,
        summary: 'Token realm for docker, podman and skopeo (Docker registry token protocol); Basic auth with an API key as the password',
        description:
          'Grants the part of the asked `scope` the credential may use: push and pull on its own apps\' repositories with `apps:deploy`, ' +
          'pull with `apps:read`, nothing elsewhere (an empty `access`, as the protocol says). Wrong credentials answer 401 with a Basic challenge.',
        querystring: RegistryTokenQuery,
        response: { 200: RealmToken },
      },
      // Credentials first, as on every route (CONTRACT §2): a bad query never tells an anonymous caller more.
      onRequest: async (request) => {
        request.principal = await principalFor(request);
      },
    },
    async (request, reply) => {
      const { service: asked, scope } = request.query;
      if (asked !== registryService) {
        throw validationFailed([{ path: 'service', message: `is not a registry this API issues tokens for (${registryService})` }]);
      }
      let requested;
      try {
        requested = parseScopes(scope === undefined ? [] : [scope].flat());
      } catch (error) {
        if (error instanceof ScopeError) throw validationFailed([{ path: 'scope', message: error.message }]);
        throw error;
      }
      const principal = principalOf(request);
      const granted = await service.grant(principal, requested);
      const refused = requested.filter((access) => {
        const grant = granted.find((g) => g.type === access.type && g.name === access.name);
        return access.actions.some((action) => !(grant?.actions as string[] | undefined)?.includes(action));
      });
      if (refused.length > 0) {
        // Recorded like a refused request: who asked for what, and what was not granted.
        request.log.info({ registry: { refused: refused.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`), granted } }, 'registry access refused');
      }
      const issued = await service.issue(principal, registryService, granted);
      reply.header('cache-control', 'no-store');
      return { token: issued.token, access_token: issued.token, expires_in: issued.expires_in, issued_at: issued.issued_at };
    },
  );

  app.get(
    '/.well-known/registry-certs.pem',
    {
      config: { auth: publicRoute, problems: ['service_unavailable', 'storage_error'] },
      schema: {
        operationId: 'getRegistryCertificates',
        tags,
        summary: "Certificates of the keys that sign registry tokens: a registry's auth.token.rootcertbundle",
        description: 'PEM, one certificate per published signing key; fetch it again after a key rotation (skaledata rotate-signing-key).',
        // Sent as text (reply.type below), never serialized through this schema.
        response: {
          200: {
            description: 'One self-signed X.509 certificate (PEM) per published signing key.',
            content: { 'application/x-pem-file': { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => reply.type('application/x-pem-file').header('cache-control', 'no-cache').send((await deps.signingKeys.publishedCertificates()).join('')),
  );
}
