/** Deploys of an application's image (their rollout is an app.deploy job of the apps module). */
export { registerDeployRoutes as register } from './deploy-routes.js';
