/** API keys: create, list, roll and revoke (the key store itself is built by buildApp, for the authenticator). */
export { registerApiKeyRoutes as register } from './api-key-routes.js';
