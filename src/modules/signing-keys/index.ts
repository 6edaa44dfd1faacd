/** The keys that sign the tokens this API issues: their public half (JWKS). */
export { registerSigningKeyRoutes as register } from './signing-key-routes.js';
