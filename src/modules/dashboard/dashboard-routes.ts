import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { publicRoute } from '../../auth/scopes.js';
import { AppError } from '../../http/errors.js';

/** Where `npm run build` puts the dashboard (vite.config.ts): src/modules/dashboard and dist/modules/dashboard are both three levels below the package. */
export const DASHBOARD_DIR = path.resolve(import.meta.dirname, '../../../dist/dashboard');

/**
 * The page may run only its own bundled script and style, talk only to this origin, and be framed by
 * nobody: an injected `<script>` or a style attribute does nothing, and a stolen page cannot phone home.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
} as const;

/** Built asset names: Vite's `name-hash.ext`, nothing that could walk out of the folder. */
const ASSET_NAME = '^[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*\\.(?:js|css|svg|png|woff2)$';

/**
 * `/` is the page (never cached: it names the current assets); `/assets/<file>` are the hashed files
 * it loads, kept by browsers for a year since a new build gives them new names. Neither is part of the
 * API, so neither is in the OpenAPI document. Without a build, `/` says how to make one.
 */
export async function registerDashboardRoutes(app: FastifyInstance): Promise<void> {
  const built = existsSync(path.join(DASHBOARD_DIR, 'index.html'));
  if (built) await app.register(fastifyStatic, { root: DASHBOARD_DIR, serve: false, index: false, dotfiles: 'deny' });
  const notBuilt = () => new AppError('service_unavailable', 'The dashboard is not built: run `npm run build` (npm start does it).');

  app.get('/', { config: { auth: publicRoute }, schema: { hide: true } }, async (_request, reply) => {
    if (!built) throw notBuilt();
    reply.headers(PAGE_HEADERS);
    return reply.sendFile('index.html');
  });

  app.get(
    '/assets/:file',
    {
      config: { auth: publicRoute },
      schema: { hide: true, params: Type.Object({ file: Type.String({ pattern: ASSET_NAME, maxLength: 200 }) }) },
      // A route's own onSend runs after the common one, which says no-store to every API answer.
      onSend: (_request, reply, payload, done) => {
        if (reply.statusCode === 200) reply.header('cache-control', 'public, max-age=31536000, immutable');
        done(null, payload);
      },
    },
    async (request, reply) => {
      if (!built) throw notBuilt();
      const { file } = request.params as { file: string };
      if (!existsSync(path.join(DASHBOARD_DIR, 'assets', file))) throw new AppError('not_found', `No dashboard asset named ${file}.`);
      reply.headers(PAGE_HEADERS);
      return reply.sendFile(`assets/${file}`);
    },
  );
}
