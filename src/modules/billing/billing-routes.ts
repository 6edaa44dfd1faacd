import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { fullOnly, publicRoute, userOnly } from '../../auth/scopes.js';
import { principalOf, userOf } from '../../http/auth-gate.js';
import type { ModuleDeps } from '../module.js';
import { Billing, ChangeSubscriptionBody, LocalPortalQuery, PortalSession, PortalSessionBody } from './billing-schemas.js';
import { actorOf } from '../events/actor.js';
import { createBillingService } from './billing-service.js';
import { createLocalPaymentProvider, LOCAL_PORTAL_PATH } from './local-payment-provider.js';

const tags = ['Billing'];

const LOCAL_PORTAL_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SkaleData billing (local)</title></head>
<body>
<h1>SkaleData billing: local provider</h1>
<p>This server runs the <strong>local</strong> payment provider. It takes no payments and stores no
payment details, so there is nothing to manage here.</p>
<p>Plans are changed with <code>POST /billing/subscription</code>; usage is shown by <code>GET /billing</code>.</p>
</body></html>
`;

export function registerBillingRoutes(root: FastifyInstance, deps: Omit<ModuleDeps, 'driver'> & { config: Pick<Config, 'publicUrl'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const provider = createLocalPaymentProvider({ clock: deps.clock, publicUrl: deps.config.publicUrl });
  const service = createBillingService({ db: deps.database.db, clock: deps.clock, provider, events: deps.events });

  app.get(
    '/billing',
    { config: { auth: fullOnly }, schema: { operationId: 'getBilling', tags, summary: "The account's plan, status, current-period usage and limits", response: { 200: Billing } } },
    async (request) => service.get(principalOf(request).accountId),
  );

  app.post(
    '/billing/subscription',
    {
      // Seed: "POST /billing/* — billing management" rejects API keys.
      config: { auth: userOnly },
      schema: { operationId: 'changeSubscription', tags, summary: 'Change plan (asking for the current plan changes nothing)', body: ChangeSubscriptionBody, response: { 200: Billing } },
    },
    async (request) => {
      const user = userOf(request);
      return service.changePlan(user, actorOf(request, user), request.body.plan);
    },
  );

  app.post(
    '/billing/portal-session',
    {
      // The body is optional: clients often POST nothing.
      config: { auth: userOnly, optionalBody: true },
      schema: { operationId: 'createPortalSession', tags, summary: 'A short-lived link to manage payment details', body: PortalSessionBody, response: { 201: PortalSession } },
    },
    async (request, reply) => reply.code(201).send(await service.portalSession(userOf(request))),
  );

  // Where the local provider's portal links lead. It shows nothing about any account (the session is
  // not looked up: the local provider keeps no payment details to show), so it needs no credentials.
  app.get(
    LOCAL_PORTAL_PATH,
    {
      config: { auth: publicRoute },
      schema: {
        operationId: 'getLocalPortal',
        tags,
        summary: "The local payment provider's portal page: says that no payments are taken",
        querystring: LocalPortalQuery,
        response: { 200: { description: 'An HTML page', content: { 'text/html': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(LOCAL_PORTAL_PAGE),
  );
}
