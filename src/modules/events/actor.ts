import type { FastifyRequest } from 'fastify';
import { principalId, type Principal } from '../../auth/principal.js';
import type { Actor } from './event-types.js';

/** Longest user agent kept on an event (the rest is cut, never refused). */
const MAX_USER_AGENT = 256;

/** The caller of an authenticated request as the audit trail records it: who, from which address, with what client. */
export function actorOf(request: FastifyRequest, principal: Principal): Actor {
  const agent = request.headers['user-agent'];
  return {
    type: principal.type,
    id: principalId(principal),
    clientIp: request.ip,
    userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null,
  };
}

/** The server itself, or an outside party it trusts by signature, as the actor of an event. */
export const systemActor = (id: string): Actor => ({ type: 'system', id, clientIp: null, userAgent: null });
