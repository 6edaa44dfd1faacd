/** Cloud accounts: connected providers and their (write-only) credentials. */
export { registerCloudRoutes as register } from './cloud-routes.js';
