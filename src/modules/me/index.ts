/** Identity: who is calling (GET /me). */
export { registerMeRoutes as register } from './me-routes.js';
