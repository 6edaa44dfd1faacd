import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { publicRoute } from '../../auth/scopes.js';
import type { Config } from '../../config.js';
import { AppError } from '../../http/errors.js';
import { checkBody, keepRawJsonBodies, parseRawJson, requiredRawBody, singleHeader } from '../../http/raw-body.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import { MAX_ALERTS_PER_BATCH, MAX_BATCH_BYTES, ScanningBatch, ScanningBatchBody, ScanningVerdict, type ScanningAlert } from './github-scanning-schemas.js';
import { createGithubScanningService, verifyGithubSignature } from './github-scanning-service.js';

const tags = ['API keys'];

const notConfigured = () => new AppError('not_found', 'GitHub secret scanning is not set up on this server.');
const badSignature = () =>
  new AppError('unauthenticated', 'The request is not signed by GitHub: Github-Public-Key-Identifier must name a key of GITHUB_SECRET_SCANNING_KEYS and Github-Public-Key-Signature must be its signature of this body.');

export function registerGithubScanningRoutes(root: FastifyInstance, deps: { config: Pick<Config, 'inbound'>; keys: ApiKeyStore; clock: Clock }): void {
  const signers = deps.config.inbound.githubScanningKeys;
  const service = createGithubScanningService(deps);

  // The signature covers the raw bytes: this route alone keeps its JSON body unparsed.
  void root.register(async (scope) => {
    keepRawJsonBodies(scope, MAX_BATCH_BYTES);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/secret-scanning/github',
      {
        config: { auth: publicRoute, problems: ['unauthenticated', 'not_found', 'service_unavailable', 'storage_error'], documentedBody: ScanningBatchBody },
        schema: {
          operationId: 'reportLeakedKeys',
          tags,
          summary: 'GitHub secret scanning: revoke leaked keys at once (GitHub calls this)',
          description:
            'The partner endpoint of GitHub secret scanning. Every match that is a key of this server (its current secret, or one it was rolled ' +
            'away from) is revoked at once and raises `api_key.leaked` with the URL where it was found; a key revoked before raises it too. ' +
            'Answers 404 unless `GITHUB_SECRET_SCANNING_KEYS` is set; 401 and nothing revoked when the signature does not hold; 413 for a ' +
            `body over ${MAX_BATCH_BYTES} bytes or more than ${MAX_ALERTS_PER_BATCH} matches.`,
          response: { 200: Type.Array(ScanningVerdict, { title: 'SecretScanningVerdicts' }) },
        },
      },
      async (request) => {
        const raw = requiredRawBody(request.body);
        if (signers === null) throw notConfigured();
        const signed = verifyGithubSignature(
          signers,
          singleHeader(request.headers['github-public-key-identifier']),
          singleHeader(request.headers['github-public-key-signature']),
          raw,
        );
        if (!signed) throw badSignature();
        const batch = parseRawJson(raw);
        if (Array.isArray(batch) && batch.length > MAX_ALERTS_PER_BATCH) {
          throw new AppError('payload_too_large', `A batch holds at most ${MAX_ALERTS_PER_BATCH} matches (got ${batch.length}).`);
        }
        return service.report(checkBody<ScanningAlert[]>(ScanningBatch, batch));
      },
    );
  });
}
