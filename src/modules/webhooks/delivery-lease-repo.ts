import type { ExpressionBuilder } from 'kysely';
import type { DatabaseHandle, Db } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { AttemptRow, DeliveryRow, WebhookRow } from './webhook-repo.js';

/**
 * The delivery worker's side of webhook_deliveries, on the pattern of jobs/job-lease-repo.ts: a due
 * delivery is taken under a lease (lease_owner, lease_expires_at on the database's clock), so exactly one
 * attempt per (endpoint, event) is in flight across instances; its outcome is written only while the
 * lease is still ours. A crashed instance's lease runs out and another instance retries.
 */
export interface DeliveryLeaseDeps {
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow'>;
  instanceId: string;
  leaseMs: number;
}

export interface AttemptOutcome {
  attempt: Omit<AttemptRow, 'delivery_id' | 'seq'>;
  /** null: delivered. Otherwise when to try again (null inside: given up). */
  retry: { at: string | null } | null;
}

export function createDeliveryLeaseRepo(deps: DeliveryLeaseDeps) {
  const { db, capabilities, sqlNow } = deps.database;
  const EXPIRED = new Date(0).toISOString();

  /** Pending, due by the app's clock, not leased (or leased by an instance that stopped renewing), to a live endpoint. */
  const isDue = (eb: ExpressionBuilder<Database, 'webhook_deliveries'>, at: string) =>
    eb.and([
      eb('status', '=', 'pending'),
      eb('next_attempt_at', '<=', at),
      eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', sqlNow())]),
      eb('webhook_id', 'in', eb.selectFrom('webhooks').select('id').where('deleted_at', 'is', null).where('disabled_at', 'is', null)),
    ]);

  const dueDeliveries = (q: Db, limit: number, at: string, exclude: readonly string[]) => {
    let query = q.selectFrom('webhook_deliveries').selectAll().where((eb) => isDue(eb, at));
    if (exclude.length > 0) query = query.where('id', 'not in', [...exclude]);
    return query.orderBy('next_attempt_at').orderBy('id').limit(limit);
  };

  const leased = { lease_owner: deps.instanceId, lease_expires_at: sqlNow(deps.leaseMs) };

  /** PostgreSQL: rows locked by another claimer are skipped, so no two instances take the same delivery. */
  async function claimWithSkipLocked(limit: number, at: string, exclude: readonly string[]): Promise<DeliveryRow[]> {
    return db.transaction().execute(async (trx) => {
      const locked = await dueDeliveries(trx, limit, at, exclude).clearSelect().select('id').forUpdate().skipLocked().execute();
      if (locked.length === 0) return [];
      return trx.updateTable('webhook_deliveries').set(leased).where('id', 'in', locked.map((row) => row.id)).returningAll().execute();
    });
  }

  /** SQLite: each candidate is taken by an UPDATE that succeeds only while it is still due. */
  async function claimWithConditionalUpdate(limit: number, at: string, exclude: readonly string[]): Promise<DeliveryRow[]> {
    const candidates = await dueDeliveries(db, limit * 2, at, exclude).execute();
    const claimed: DeliveryRow[] = [];
    for (const delivery of candidates) {
      if (claimed.length >= limit) break;
      const result = await db.updateTable('webhook_deliveries').set(leased).where('id', '=', delivery.id).where((eb) => isDue(eb, at)).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) claimed.push(delivery);
    }
    return claimed;
  }

  return {
    claimDue: capabilities.supportsSkipLocked ? claimWithSkipLocked : claimWithConditionalUpdate,

    webhook: (id: string): Promise<WebhookRow | undefined> =>
      db.selectFrom('webhooks').selectAll().where('id', '=', id).where('deleted_at', 'is', null).where('disabled_at', 'is', null).executeTakeFirst(),

    /** Interrupted attempts (shutdown) are given back at once, not counted, for another instance or a restart. */
    async handBack(ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await db.updateTable('webhook_deliveries').set({ lease_owner: null, lease_expires_at: EXPIRED }).where('id', 'in', [...ids]).where('lease_owner', '=', deps.instanceId).execute();
    },

    /** One process owns the database (SQLite): leases left by a crash are void. */
    async expireAll(): Promise<void> {
      await db.updateTable('webhook_deliveries').set({ lease_expires_at: EXPIRED }).where('status', '=', 'pending').where('lease_owner', 'is not', null).execute();
    },

    /**
     * Stores an attempt and the delivery's new state in one transaction, fenced by our lease; then `after`
     * (the endpoint's failure streak, and its disabling) in the same transaction. False: the lease was lost.
     */
    record: (delivery: DeliveryRow, outcome: AttemptOutcome, after: (trx: Db, attempts: number) => Promise<void>) =>
      db.transaction().execute(async (trx) => {
        const { attempt, retry } = outcome;
        const status = retry === null ? 'succeeded' : retry.at === null ? 'failed' : 'pending';
        const result = await trx
          .updateTable('webhook_deliveries')
          .set((eb) => ({
            status,
            attempts: eb('attempts', '+', 1),
            next_attempt_at: retry?.at ?? null,
            lease_owner: null,
            lease_expires_at: null,
            last_status_code: attempt.status_code,
            last_error: attempt.error,
            delivered_at: retry === null ? attempt.at : null,
          }))
          .where('id', '=', delivery.id)
          .where('lease_owner', '=', deps.instanceId)
          .where('status', '=', 'pending')
          .returning('attempts')
          .executeTakeFirst();
        if (result === undefined) return false;
        await trx.insertInto('webhook_attempts').values({ ...attempt, delivery_id: delivery.id, seq: result.attempts }).execute();
        await after(trx, result.attempts);
        return true;
      }),
  };
}

export type DeliveryLeaseRepo = ReturnType<typeof createDeliveryLeaseRepo>;
