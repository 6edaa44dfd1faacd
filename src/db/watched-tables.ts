/** Where PostgreSQL announces every committed change to a watched table (migration 0011's triggers). */
export const ROWS_CHANNEL = 'skaledata_rows';

/**
 * The tables the kept list pages are made of (http/response-cache.ts): a route may keep its pages only if
 * they are read from these tables alone. Watching another table takes a migration adding its trigger.
 */
export const WATCHED_TABLES = ['clouds', 'clusters', 'apps'] as const;

const NAMES_A_WATCHED_TABLE = new RegExp(`\\b(?:${WATCHED_TABLES.join('|')})\\b`);

/** What a statement this process sends means to the kept pages (database.ts counts by it). */
export type StatementKind = 'read' | 'begin' | 'end' | 'watched-write' | 'other-write';

/** From the statement's text: cheap enough for every statement (a few regular-expression tests). */
export function statementKind(text: string): StatementKind {
  if (/^\s*select\b/i.test(text)) return 'read';
  if (/^\s*begin\b/i.test(text)) return 'begin';
  if (/^\s*(?:commit|rollback)\b/i.test(text)) return 'end';
  return NAMES_A_WATCHED_TABLE.test(text) ? 'watched-write' : 'other-write';
}
