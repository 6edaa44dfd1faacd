import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { BillingAccountTable } from '../../db/schema.js';
import type { BillingStatus } from './payment-provider.js';
import { DEFAULT_PLAN, type PlanId } from './plans.js';
import { calendarMonthOf, type Period, type UsageInterval } from './usage.js';

export type BillingAccountRow = Selectable<BillingAccountTable>;

export function createBillingRepo(db: Db) {
  async function get(accountId: string): Promise<BillingAccountRow | undefined> {
    return db.selectFrom('billing_accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  }

  return {
    /**
     * The account's billing row, made on first use (free, active, this calendar month) and moved on
     * to the current month when its period has ended. Both writes are conditional single statements,
     * so concurrent first requests agree on one row and one period.
     */
    async ensure(accountId: string, now: Date): Promise<BillingAccountRow> {
      let row = await get(accountId);
      if (!row) {
        const period = calendarMonthOf(now);
        const at = now.toISOString();
        await db
          .insertInto('billing_accounts')
          .values({
            account_id: accountId,
            plan: DEFAULT_PLAN,
            status: 'active',
            provider_customer_id: null,
            current_period_start: period.start.toISOString(),
            current_period_end: period.end.toISOString(),
            created_at: at,
            updated_at: at,
          })
          .onConflict((oc) => oc.column('account_id').doNothing())
          .execute();
        row = await get(accountId);
      } else if (Date.parse(row.current_period_end) <= now.getTime()) {
        const period = calendarMonthOf(now);
        await db
          .updateTable('billing_accounts')
          .set({ current_period_start: period.start.toISOString(), current_period_end: period.end.toISOString(), updated_at: now.toISOString() })
          .where('account_id', '=', accountId)
          .where('current_period_end', '=', row.current_period_end)
          .execute();
        row = await get(accountId);
      }
      if (!row) throw new Error(`billing account ${accountId} vanished while being created`);
      return row;
    },

    /** Keeps the first customer id stored: a racing second one is dropped, and the stored one returned. */
    async setCustomer(accountId: string, customerId: string, now: string): Promise<string> {
      await db
        .updateTable('billing_accounts')
        .set({ provider_customer_id: customerId, updated_at: now })
        .where('account_id', '=', accountId)
        .where('provider_customer_id', 'is', null)
        .execute();
      const row = await get(accountId);
      if (!row?.provider_customer_id) throw new Error(`billing account ${accountId} has no customer after setting one`);
      return row.provider_customer_id;
    },

    /**
     * The account's plan, read under a lock on its billing row (taken by a write that changes nothing:
     * a row lock on PostgreSQL, the write lock on SQLite) until `trx` ends. Decisions against the plan's
     * limits made in `trx` are then made one at a time per account. The row must exist (`ensure`).
     */
    async lockPlan(trx: Db, accountId: string): Promise<PlanId> {
      const row = await trx
        .updateTable('billing_accounts')
        .set((eb) => ({ plan: eb.ref('billing_accounts.plan') }))
        .where('account_id', '=', accountId)
        .returning('plan')
        .executeTakeFirst();
      if (!row) throw new Error(`billing account ${accountId} is missing; ensure it before locking its plan`);
      return row.plan as PlanId;
    },

    async setPlan(trx: Db, accountId: string, plan: PlanId, status: BillingStatus, now: string): Promise<void> {
      await trx.updateTable('billing_accounts').set({ plan, status, updated_at: now }).where('account_id', '=', accountId).execute();
    },

    /** The account's usage records that overlap the period (open ones included). */
    async usageOverlapping(accountId: string, period: Period): Promise<UsageInterval[]> {
      return db
        .selectFrom('usage_records')
        .select(['resource_type', 'quantity', 'started_at', 'ended_at'])
        .where('account_id', '=', accountId)
        .where('started_at', '<', period.end.toISOString())
        .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', period.start.toISOString())]))
        .execute();
    },
  };
}
