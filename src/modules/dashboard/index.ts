import type { FastifyInstance } from 'fastify';
import type { DevIssuer } from '../../auth/dev-issuer.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerDevSignInRoutes } from './dev-sign-in-routes.js';

/**
 * The web dashboard: its built pages (dist/dashboard, made by `npm run build`) at `/`, and, while the
 * local development issuer is on, the development sign-in that gives the page a session token.
 */
export async function register(app: FastifyInstance, deps: { devIssuer?: DevIssuer | null }): Promise<void> {
  await registerDashboardRoutes(app);
  if (deps.devIssuer) registerDevSignInRoutes(app, deps.devIssuer);
}
