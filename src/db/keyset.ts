import { sql, type SelectQueryBuilder } from 'kysely';

/** One page of a list: how many rows, and the key of the last row of the page before (null: the first page). */
export interface KeysetPage {
  limit: number;
  after: string | number | null;
}

/**
 * Keyset pagination, newest first (every list of the API): rows whose `column` is strictly below the
 * previous page's last one, in descending order, one more than the page holds; that extra row only says
 * there is another page (http/pagination.ts toPage). `column` must be unique within the filtered rows
 * (ids are; DAG versions are per app), so no row is skipped or shown twice across pages.
 */
export function newestFirst<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  column: string & keyof DB[TB],
  page: KeysetPage,
): SelectQueryBuilder<DB, TB, O> {
  const key = sql.ref(column);
  const after = page.after === null ? query : query.where(key, '<', page.after);
  return after.orderBy(key, 'desc').limit(page.limit + 1);
}
