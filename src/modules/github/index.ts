/** The account's GitHub integration (where DAGs come from). */
export { registerGithubRoutes as register } from './github-routes.js';
