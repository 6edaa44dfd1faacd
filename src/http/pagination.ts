import { Type, type TSchema } from 'typebox';
import type { KeysetPage } from '../db/keyset.js';
import { isWellFormedId } from '../lib/ids.js';
import { AppError } from './errors.js';

/** `?limit=` (default 50, max 200) and `?cursor=` on every list (CONTRACT §5). */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
};

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** The page a list query asks for; `after` is the id of the last row of the page before (db/keyset.ts). */
export function pageRequest(query: { limit?: number | undefined; cursor?: string | undefined }): KeysetPage & { after: string | null } {
  const limit = query.limit ?? 50;
  if (query.cursor === undefined) return { limit, after: null };
  const after = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!isWellFormedId(after) || Buffer.from(after).toString('base64url') !== query.cursor) {
    throw new AppError('validation_failed', 'cursor is not one this API returned', {
      errors: [{ path: 'query.cursor', message: 'is not a cursor this API returned' }],
    });
  }
  return { limit, after };
}

/** Repositories fetch limit+1 rows newest first (db/keyset.ts); the extra row only says there is another page. */
export function toPage<Row extends { id: string }, T>(rows: Row[], request: Pick<KeysetPage, 'limit'>, present: (row: Row) => T): Page<T> {
  const hasMore = rows.length > request.limit;
  const shown = hasMore ? rows.slice(0, request.limit) : rows;
  const last = shown[shown.length - 1];
  return {
    data: shown.map(present),
    next_cursor: hasMore && last ? Buffer.from(last.id).toString('base64url') : null,
  };
}

/** A page of `item`s; a titled item (`Cluster`) names its page too (`ClusterList`, a component of the OpenAPI document). */
export const pageSchema = <T extends TSchema>(item: T) => {
  const title = (item as { title?: unknown }).title;
  return Type.Object(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass it as `?cursor=` for the next page; null on the last page.' }) },
    typeof title === 'string' ? { title: `${title}List` } : {},
  );
};

