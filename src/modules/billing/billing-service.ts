import type { UserPrincipal } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor } from '../events/event-types.js';
import { createBillingRepo, type BillingAccountRow } from './billing-repo.js';
import type { PaymentProvider } from './payment-provider.js';
import { planOf, type PlanId } from './plans.js';
import { usageIn } from './usage.js';

export interface BillingServiceDeps {
  db: Db;
  clock: Clock;
  provider: PaymentProvider;
  events: Pick<EventLog, 'record'>;
}

export function createBillingService(deps: BillingServiceDeps) {
  const { clock, provider } = deps;
  const repo = createBillingRepo(deps.db);

  async function present(row: BillingAccountRow, now: Date) {
    const period = { start: new Date(row.current_period_start), end: new Date(row.current_period_end) };
    const plan = planOf(row.plan);
    const records = await repo.usageOverlapping(row.account_id, period);
    return {
      plan: plan.id,
      status: row.status,
      monthly_price_cents: plan.monthly_price_cents,
      current_period: { start: row.current_period_start, end: row.current_period_end },
      usage: usageIn(records, period, now),
      limits: { ...plan.limits },
      provider: provider.name,
    };
  }

  /** The provider's customer for this account, made on the first change a user asks for (never on a read). */
  async function customerOf(principal: UserPrincipal, row: BillingAccountRow): Promise<string> {
    if (row.provider_customer_id !== null) return row.provider_customer_id;
    const { customerId } = await provider.createCustomer({ accountId: principal.accountId, email: principal.email });
    return repo.setCustomer(principal.accountId, customerId, clock.now().toISOString());
  }

  return {
    async get(accountId: string) {
      const now = clock.now();
      return present(await repo.ensure(accountId, now), now);
    },

    /** Idempotent: asking for the current plan changes nothing and calls no provider. */
    async changePlan(principal: UserPrincipal, actor: Actor, to: PlanId) {
      const row = await repo.ensure(principal.accountId, clock.now());
      if (row.plan !== to) {
        const customerId = await customerOf(principal, row);
        const { status } = await provider.changeSubscription({ customerId, accountId: principal.accountId, from: planOf(row.plan).id, to });
        const from = planOf(row.plan).id;
        await deps.db.transaction().execute(async (trx) => {
          await repo.setPlan(trx, principal.accountId, to, status, clock.now().toISOString());
          await deps.events.record(trx, { accountId: principal.accountId, type: 'billing.plan_changed', actor, subject: { type: 'billing', id: principal.accountId }, data: { from, to, status } });
        });
      }
      const now = clock.now();
      return present(await repo.ensure(principal.accountId, now), now);
    },

    async portalSession(principal: UserPrincipal) {
      const row = await repo.ensure(principal.accountId, clock.now());
      const customerId = await customerOf(principal, row);
      const session = await provider.createPortalSession({ customerId, accountId: principal.accountId });
      return { url: session.url, expires_at: session.expiresAt.toISOString() };
    },
  };
}
