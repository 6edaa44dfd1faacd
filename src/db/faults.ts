/**
 * What went wrong with the database or the disk under it, when it is not the request's fault: each kind
 * is a 503 with Retry-After for the client (http/error-handler.ts) and a reason for /readyz.
 * - `unavailable`: no connection (refused, reset, terminated) or the database is busy (SQLite's lock).
 * - `timeout`: connected, but no answer within the query bounds (a network cut, a stuck server).
 * - `storage_full`: the disk is full (SQLITE_FULL, PostgreSQL 53100 disk_full, ENOSPC/EDQUOT on files).
 * - `storage_error`: the disk failed a read or a write, or became read-only (SQLITE_IOERR_*, SQLITE_READONLY_*,
 *   PostgreSQL 58030 io_error, EIO, EROFS).
 */
export type DatabaseFault = 'unavailable' | 'timeout' | 'storage_full' | 'storage_error';

const UNAVAILABLE_CODES = new Set([
  // the network, and name resolution of the database host
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND',
  // PostgreSQL: shutting down or restarting, connection exceptions, too many connections or out of
  // memory (class 53 but disk_full), a read-only transaction (a standby after a failover)
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53000', '53200', '53300', '53400', '25006',
  'SQLITE_BUSY', 'SQLITE_LOCKED',
]);
const TIMEOUT_CODES = new Set(['57014']);
const FULL_CODES = new Set(['SQLITE_FULL', '53100', 'ENOSPC', 'EDQUOT']);
// A disk that fails writes is often remounted read-only next.
const STORAGE_ERROR_CODES = new Set(['58030', 'EIO', 'EROFS']);

/** The fault `error` reports, or null when it is something else (a bug, or the request's own fault). */
export function databaseFault(error: unknown): DatabaseFault | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (FULL_CODES.has(code)) return 'storage_full';
    if (STORAGE_ERROR_CODES.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) return 'storage_error';
    if (TIMEOUT_CODES.has(code)) return 'timeout';
    if (UNAVAILABLE_CODES.has(code)) return 'unavailable';
  }
  if (typeof message !== 'string') return null;
  // pg's client-side bounds (query_timeout, connectionTimeoutMillis) raise plain Errors with these messages.
  if (message === 'Query read timeout') return 'timeout';
  if (/timeout exceeded when trying to connect|Connection terminated|connection error and is not queryable/.test(message)) return 'unavailable';
  return null;
}

/** How long a storage fault keeps /readyz at 503 after it was last seen (ms). */
export const STORAGE_FAULT_HOLD_MS = 5_000;

/**
 * Storage faults seen by anyone using the database (requests, the job runner), remembered for a while
 * so readiness reports them: a full disk on a PostgreSQL server is not visible to a `select 1`.
 */
export class StorageFaults {
  #last: { fault: 'storage_full' | 'storage_error'; atMs: number } | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Classifies `error`, remembering it when it is a storage fault; returns its fault (or null). */
  note(error: unknown): DatabaseFault | null {
    const fault = databaseFault(error);
    if (fault === 'storage_full' || fault === 'storage_error') this.#last = { fault, atMs: this.now() };
    return fault;
  }

  /** The storage fault seen within STORAGE_FAULT_HOLD_MS, or null. */
  recent(): 'storage_full' | 'storage_error' | null {
    if (this.#last === null || this.now() - this.#last.atMs > STORAGE_FAULT_HOLD_MS) return null;
    return this.#last.fault;
  }
}
