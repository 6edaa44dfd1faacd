import type { ExpressionBuilder, ExpressionWrapper, SqlBool } from 'kysely';
import type { Database } from './schema.js';

/**
 * `column IN (ids)` as a list of at most one condition, for `eb.or([...])`: an empty set gives no
 * condition (an empty `or` is false in Kysely), never the invalid `IN ()`.
 */
export function idsIn<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  column: Parameters<ExpressionBuilder<DB, TB>['eb']>[0] & string,
  ids: ReadonlySet<string>,
): Array<ExpressionWrapper<DB, TB, SqlBool>> {
  if (ids.size === 0) return [];
  return [eb(column, 'in', [...ids] as never) as ExpressionWrapper<DB, TB, SqlBool>];
}

/** The apps a fenced key may see, for `eb.or([...])` on the apps table: those listed, and those on a listed cluster. */
export function visibleApps(eb: ExpressionBuilder<Database, 'apps'>, fence: { clusters: ReadonlySet<string>; apps: ReadonlySet<string> }): Array<ExpressionWrapper<Database, 'apps', SqlBool>> {
  return [...idsIn(eb, 'id', fence.apps), ...idsIn(eb, 'cluster_id', fence.clusters)];
}
