/** What `apps:deploy` hands a pipeline or a developer: registry tokens, dev credentials, the deploy script. */
export { registerAppCredentialRoutes as register } from './app-credential-routes.js';
