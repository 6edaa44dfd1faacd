/** The handoff to a cluster's data plane: a short-lived signed token for a signed-in user. */
export { registerDataPlaneRoutes as register } from './data-plane-routes.js';
