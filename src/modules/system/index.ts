/** System: liveness and readiness, the scope catalogue, and the OpenAPI document. */
export { registerSystemRoutes as register } from './system-routes.js';
