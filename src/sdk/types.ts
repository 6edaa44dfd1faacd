import type { components, paths } from './generated/openapi.js';

/**
 * Named types for the resources, derived from the operations' response types in the generated
 * document. The document's named component schemas are there too, as `Schemas['Cluster']`,
 * `Schemas['Problem']`, …; the aliases below are the same types, reached through the operations.
 */

export type { components, paths };
export type Schemas = components['schemas'];

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';

/** Paths that have `method`. */
export type PathWith<M extends HttpMethod> = {
  [P in keyof paths]: paths[P] extends Record<M, infer Operation> ? (Operation extends object ? P : never) : never;
}[keyof paths];

/** The JSON body of the operation's answer with `status`. */
export type JsonResponse<P extends keyof paths, M extends HttpMethod, S extends number> = paths[P] extends Record<M, infer Operation>
  ? Operation extends { responses: Record<S, infer Answer> }
    ? Answer extends { content: { 'application/json': infer Body } }
      ? Body
      : never
    : never
  : never;

/** The query parameters of a GET. */
export type QueryOf<P extends PathWith<'get'>> = paths[P]['get'] extends { parameters: { query?: infer Query } } ? NonNullable<Query> : never;
/** The path parameters of a GET (never when it has none). */
export type PathParamsOf<P extends PathWith<'get'>> = paths[P]['get'] extends { parameters: { path: infer Params } } ? Params : never;

/** GET routes that answer a `{ data, next_cursor }` page (CONTRACT §5 lists). */
export type ListPath = {
  [P in PathWith<'get'>]: JsonResponse<P, 'get', 200> extends { data: unknown[]; next_cursor: string | null } ? P : never;
}[PathWith<'get'>];

/** One item of a list route. */
export type ItemOf<P extends ListPath> = JsonResponse<P, 'get', 200> extends { data: Array<infer Item> } ? Item : never;

export type Me = JsonResponse<'/me', 'get', 200>;
export type ApiKey = JsonResponse<'/api-keys/{id}', 'get', 200>;
export type ApiKeyWithSecret = JsonResponse<'/api-keys', 'post', 201>;
export type Cloud = JsonResponse<'/clouds/{id}', 'get', 200>;
export type Cluster = JsonResponse<'/clusters/{id}', 'get', 200>;
export type ClusterAccepted = JsonResponse<'/clusters', 'post', 202>;
export type Job = JsonResponse<'/jobs/{id}', 'get', 200>;
export type JobStep = Job['steps'][number];
/** A job as the answer of a write carries it (202 `{ …, job }`): without its log lines. */
export type JobSummary = ClusterAccepted['job'];
export type App = JsonResponse<'/apps/{id}', 'get', 200>;
export type Deploy = JsonResponse<'/apps/{id}/deploys/{deploy}', 'get', 200>;
export type DeployAccepted = JsonResponse<'/apps/{id}/deploys', 'post', 202>;
export type DagBundleAccepted = JsonResponse<'/apps/{id}/dags', 'post', 202>;
export type DagBundle = DagBundleAccepted['bundle'];
export type Pod = ItemOf<'/clusters/{id}/pods'>;
export type CreateClusterBody = NonNullable<paths['/clusters']['post']['requestBody']>['content']['application/json'];
export type CreateApiKeyBody = NonNullable<paths['/api-keys']['post']['requestBody']>['content']['application/json'];
export type UpdateApiKeyBody = NonNullable<paths['/api-keys/{id}']['patch']['requestBody']>['content']['application/json'];
export type RollApiKeyBody = NonNullable<paths['/api-keys/{id}/roll']['post']['requestBody']>['content']['application/json'];
export type Scope = NonNullable<CreateApiKeyBody['scopes']>[number];
