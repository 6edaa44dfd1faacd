import type { ExpressionBuilder, ExpressionWrapper, SqlBool } from 'kysely';

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
