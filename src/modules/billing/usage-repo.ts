import type { Db } from '../../db/database.js';
import { newId } from '../../lib/ids.js';

/**
 * Usage records, opened and closed by the cluster and node pool job handlers inside the transaction
 * that finishes the job, so usage changes exactly when the resource's state does. A resource has at
 * most one open record; quantities are whole (1 per cluster, nodes per pool).
 */
export type UsageResourceType = 'cluster' | 'node_pool';

async function closeOpen(trx: Db, resourceId: string, now: string): Promise<void> {
  await trx.updateTable('usage_records').set({ ended_at: now }).where('resource_id', '=', resourceId).where('ended_at', 'is', null).execute();
}

/**
 * Starts counting `quantity` of a resource from `now`, closing what was counted before (a resize is
 * one record ending and the next starting at the same instant). A quantity of 0 counts nothing.
 */
export async function startUsage(
  trx: Db,
  usage: { accountId: string; resourceType: UsageResourceType; resourceId: string; quantity: number },
  now: string,
): Promise<void> {
  await closeOpen(trx, usage.resourceId, now);
  if (usage.quantity <= 0) return;
  await trx
    .insertInto('usage_records')
    .values({
      id: newId('usageRecord', Date.parse(now)),
      account_id: usage.accountId,
      resource_type: usage.resourceType,
      resource_id: usage.resourceId,
      quantity: usage.quantity,
      started_at: now,
      ended_at: null,
    })
    .execute();
}

/** Stops counting one resource (a node pool removed). */
export async function stopUsage(trx: Db, resourceId: string, now: string): Promise<void> {
  await closeOpen(trx, resourceId, now);
}

/** Stops counting a destroyed cluster and every node pool it had. */
export async function stopClusterUsage(trx: Db, clusterId: string, now: string): Promise<void> {
  await trx
    .updateTable('usage_records')
    .set({ ended_at: now })
    .where((eb) => eb.or([eb('resource_id', '=', clusterId), eb('resource_id', 'in', eb.selectFrom('node_pools').select('id').where('cluster_id', '=', clusterId))]))
    .where('ended_at', 'is', null)
    .execute();
}
