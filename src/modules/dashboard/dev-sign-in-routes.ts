import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { DEV_EMAIL_PATTERN, DEV_ORG_PATTERN, devUserId, type DevIssuer } from '../../auth/dev-issuer.js';
import { publicRoute } from '../../auth/scopes.js';
import { AppError } from '../../http/errors.js';

/** As long as `skaledata dev-token` gives by default. */
export const DEV_SESSION_SECONDS = 3600;

const DevSignInBody = Type.Object(
  {
    email: Type.String({ pattern: DEV_EMAIL_PATTERN, maxLength: 254, description: 'Who to sign in as; the same email is the same user every time.' }),
    org_id: Type.Optional(Type.String({ pattern: DEV_ORG_PATTERN, description: 'Act in this organisation account instead of the personal one.' })),
  },
  { additionalProperties: false },
);

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6: the socket's own peer, never a forwarded header. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * `POST /dev/sign-in` — the dashboard's sign-in while the local development issuer is on (no
 * CLERK_JWT_KEY): what `skaledata dev-token` does, for a browser. It exists only in that mode, answers
 * only callers on this machine (whoever can reach it can be anyone, exactly as whoever can run the CLI
 * can), and is not part of the API's document.
 */
export function registerDevSignInRoutes(root: FastifyInstance, issuer: DevIssuer): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/dev/sign-in',
    { config: { auth: publicRoute }, schema: { hide: true, body: DevSignInBody } },
    async (request, reply) => {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new AppError('ip_not_allowed', 'Development sign-in answers only requests from this machine (loopback).');
      }
      const { email, org_id: orgId } = request.body;
      const userId = devUserId(email);
      const token = await issuer.mint({ userId, email, orgId, ttlSeconds: DEV_SESSION_SECONDS });
      const expiresAt = new Date(Date.now() + DEV_SESSION_SECONDS * 1000).toISOString();
      return reply.code(201).send({ token, user_id: userId, email, org_id: orgId ?? null, expires_at: expiresAt });
    },
  );
}
