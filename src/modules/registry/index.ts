/** Interop with stock Docker registries: the token realm and the certificates a registry trusts. */
export { registerRegistryRoutes as register } from './registry-routes.js';
