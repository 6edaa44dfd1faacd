/**
 * The SkaleData SDK (`skaledata-control-plane/sdk`): a typed client generated from the API's OpenAPI
 * document at build time (openapi-typescript), calling through openapi-fetch.
 *
 *   const sd = createClient({ baseUrl: 'https://api.skaledata.com', apiKey: process.env.SKALEDATA_API_KEY });
 *   const { deploy, job } = await unwrap(sd.POST('/apps/{id}/deploys', { params: { path: { id } }, body: { image } }));
 *   await sd.waitForDeploy(id, deploy.id);
 */
export { createClient, unwrap, type ClientOptions, type DagFileInput, type LogOptions, type PaginateQuery, type SkaledataClient } from './client.js';
export {
  SkaledataConnectionError,
  SkaledataOperationError,
  SkaledataPaginationError,
  SkaledataProblem,
  SkaledataTimeoutError,
  type ProblemBody,
  type ProblemFieldError,
  type ProblemJson,
} from './errors.js';
export { PRESET_NAMES, SCOPE_PRESETS, presetsWithScope, type PresetName } from './presets.js';
export type * from './types.js';
export type { JobWaitOptions, StatusWaitOptions, WaitOptions, Waiters } from './wait.js';
