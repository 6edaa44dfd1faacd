import { createHash } from 'node:crypto';
import type { FastifyBaseLogger, onResponseHookHandler } from 'fastify';
import type { KeyActivityTable } from '../../db/schema.js';
import { newId, toBase62 } from '../../lib/ids.js';

/**
 * What each API key did (CONTRACT §7), written behind the requests like `last_used_at` (last-used.ts):
 * the onResponse hook only notes the request in memory; a timer writes what was noted in batches, one
 * batch at a time. Memory stays bounded whatever the database does: the notes wait in a buffer of fixed
 * capacity that drops its oldest note when full (counted and logged), and a write that fails loses its
 * batch (counted too) rather than queueing it again. Activity is an account's view of its keys, not an
 * audit trail that must be complete.
 *
 * - a refused request (401, 403, 429: the credential was recognised, then a scope, the user-only rule,
 *   the address or a limit turned it away) and every write (any method but GET and HEAD) are one row each;
 * - every other read is counted in a roll-up: one row per key, minute, method, route and status.
 */

export type ActivityRow = KeyActivityTable;

/** Where the recorder's batches go (key-activity-repo.ts): singles inserted, roll-ups added to their row. */
export type WriteActivity = (rows: readonly ActivityRow[]) => Promise<void>;

/** Rows are kept 30 days (CONTRACT §7). */
export const ACTIVITY_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** How often rows past the retention are deleted (in bounded batches, key-activity-repo.ts). */
export const ACTIVITY_PURGE_INTERVAL_MS = 3600 * 1000;
/** Rows handed to one write: the buffer is emptied over several writes, each after the one before. */
export const ACTIVITY_WRITE_BATCH = 1000;
/** Refused requests and writes kept as rows of their own per key and minute; the rest are rolled up. */
export const SINGLES_PER_KEY_MINUTE = 100;
/** Longest user agent kept (they are free text chosen by the client). */
const MAX_USER_AGENT = 256;

const MINUTE_MS = 60_000;

/** A fixed-capacity FIFO: when full, a new item pushes out the oldest, which `push` returns. */
export class DropOldestBuffer<T> {
  readonly #items: Array<T | undefined>;
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `item`; returns the oldest item when it had to make room for it. */
  push(item: T): T | undefined {
    if (this.#size < this.capacity) {
      this.#items[(this.#head + this.#size) % this.capacity] = item;
      this.#size++;
      return undefined;
    }
    const evicted = this.#items[this.#head];
    this.#items[this.#head] = item;
    this.#head = (this.#head + 1) % this.capacity;
    return evicted;
  }

  /** Removes and returns up to `max` items, oldest first. */
  take(max: number): T[] {
    const count = Math.min(max, this.#size);
    const taken: T[] = [];
    for (let i = 0; i < count; i++) {
      taken.push(this.#items[this.#head] as T);
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#size -= count;
    return taken;
  }
}

interface Pending {
  row: ActivityRow;
  /** The roll-up's bucket, while reads may still be added to it; null for a single row. */
  bucket: string | null;
}

export interface ActivityRecorderOptions {
  write: WriteActivity;
  /** The app's clock, in ms. */
  now: () => number;
  /** Most notes held in memory (KEY_ACTIVITY_BUFFER). */
  capacity: number;
  /** How often the buffer is written (KEY_ACTIVITY_FLUSH_MS). */
  flushIntervalMs: number;
  /** Deletes rows older than the instant given, returning how many (null: no purge). */
  purge?: ((before: string) => Promise<number>) | null;
  batchSize?: number;
}

/** A single row (refusal or write) as the hook describes it. */
export interface ActivityEvent {
  keyId: string;
  kind: 'refused' | 'write';
  method: string;
  route: string;
  status: number;
  code: string | null;
  missingScope: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

/**
 * The id of a roll-up row: its minute as the time part of an `act_` id (so it pages with the single rows,
 * newest first) and a digest of its bucket as the rest. Every instance derives the same id for the same
 * bucket, so their counts add up in one row.
 */
export function rollupId(minuteMs: number, keyId: string, method: string, route: string, status: number): string {
  const digest = createHash('sha256').update(`${keyId}\n${method}\n${route}\n${status}`).digest();
  let tail = '';
  for (let i = 0; i < 16; i++) tail += toBase62((digest[i] as number) % 62, 1);
  return `act_${toBase62(minuteMs, 9)}${tail}`;
}

/** The smallest `act_` id of rows at or after `atMs`: ids sort by time, so a window is a range of ids. */
export const activityIdFloor = (atMs: number): string => `act_${toBase62(atMs, 9)}`;

/** The row of one request (or the first of a roll-up) at `atMs`; its count starts at 1. */
function activityRow(id: string, atMs: number, event: Omit<ActivityEvent, 'kind'> & { kind: ActivityRow['kind'] }): ActivityRow {
  return {
    id,
    key_id: event.keyId,
    at: new Date(atMs).toISOString(),
    kind: event.kind,
    method: event.method,
    route: event.route,
    status: event.status,
    code: event.code,
    missing_scope: event.missingScope,
    client_ip: event.clientIp,
    user_agent: event.userAgent === null ? null : event.userAgent.slice(0, MAX_USER_AGENT),
    count: 1,
  };
}

export class KeyActivityRecorder {
  readonly #options: ActivityRecorderOptions;
  readonly #buffer: DropOldestBuffer<Pending>;
  /** Open roll-ups by bucket (key, minute, method, route, status); each is also in the buffer. */
  readonly #buckets = new Map<string, Pending>();
  readonly #batchSize: number;
  /** Single rows noted per key in the current minute (`#singlesMinute`). */
  readonly #singles = new Map<string, number>();
  #singlesMinute = 0;
  #dropped = 0;
  #droppedLogged = 0;
  #flushing: Promise<void> | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #purgeTimer: NodeJS.Timeout | null = null;
  #log: FastifyBaseLogger | null = null;
  #stopping = false;

  constructor(options: ActivityRecorderOptions) {
    this.#options = options;
    this.#buffer = new DropOldestBuffer(options.capacity);
    this.#batchSize = options.batchSize ?? ACTIVITY_WRITE_BATCH;
  }

  /** Requests lost so far: pushed out of a full buffer, or in a batch the database did not take. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Notes waiting to be written. */
  get pending(): number {
    return this.#buffer.size;
  }

  /**
   * A refused request or a write: one row of its own, up to SINGLES_PER_KEY_MINUTE per key and minute. Past
   * that (a flood: a leaked key hammering a route it may not call) the rest of the minute is counted in
   * roll-ups per kind, route, status and code, so a flood costs rows per minute, not per request.
   */
  record(event: ActivityEvent): void {
    const atMs = this.#options.now();
    const minuteMs = Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
    if (minuteMs !== this.#singlesMinute) {
      this.#singlesMinute = minuteMs;
      this.#singles.clear();
    }
    const singles = this.#singles.get(event.keyId) ?? 0;
    if (singles >= SINGLES_PER_KEY_MINUTE) {
      // A roll-up keeps the code and missing scope, not one request's address or agent.
      const rolled = { ...event, clientIp: null, userAgent: null };
      const id = rollupId(minuteMs, event.keyId, `${event.kind} ${event.method}`, `${event.route} ${event.code ?? ''} ${event.missingScope ?? ''}`, event.status);
      this.#countInto(`${event.kind} ${event.keyId} ${minuteMs} ${event.method} ${event.route} ${event.status} ${event.code ?? ''} ${event.missingScope ?? ''}`, () => activityRow(id, minuteMs, rolled));
      return;
    }
    this.#singles.set(event.keyId, singles + 1);
    this.#push({ row: activityRow(newId('keyActivity', atMs), atMs, event), bucket: null });
  }

  /** One more in an open roll-up, or a new roll-up row (made by `row`) for its bucket. */
  #countInto(bucket: string, row: () => ActivityRow): void {
    const open = this.#buckets.get(bucket);
    if (open !== undefined) {
      open.row.count++;
      return;
    }
    const pending: Pending = { row: row(), bucket };
    this.#buckets.set(bucket, pending);
    this.#push(pending);
  }

  /** A read: one more in its minute's roll-up. */
  countRead(keyId: string, method: string, route: string, status: number): void {
    const minuteMs = Math.floor(this.#options.now() / MINUTE_MS) * MINUTE_MS;
    const read = { keyId, kind: 'reads' as const, method, route, status, code: null, missingScope: null, clientIp: null, userAgent: null };
    this.#countInto(`reads ${keyId} ${minuteMs} ${method} ${route} ${status}`, () => activityRow(rollupId(minuteMs, keyId, method, route, status), minuteMs, read));
  }

  #push(pending: Pending): void {
    const evicted = this.#buffer.push(pending);
    if (evicted === undefined) return;
    this.#dropped += evicted.row.count;
    if (evicted.bucket !== null) this.#buckets.delete(evicted.bucket);
  }

  /** Starts the write timer and the purge (onReady). */
  start(log: FastifyBaseLogger): void {
    this.#log = log;
    if (this.#flushTimer === null) {
      this.#flushTimer = setInterval(() => this.#tick(), this.#options.flushIntervalMs);
      this.#flushTimer.unref();
    }
    const purge = this.#options.purge;
    if (purge && this.#purgeTimer === null) {
      const run = () => {
        purge(new Date(this.#options.now() - ACTIVITY_RETENTION_MS).toISOString()).catch((error: unknown) =>
          this.#log?.warn({ err: error }, 'could not purge old API key activity; trying again later'),
        );
      };
      this.#purgeTimer = setInterval(run, ACTIVITY_PURGE_INTERVAL_MS);
      this.#purgeTimer.unref();
      run();
    }
  }

  /** The timer's turn: a batch is written only when none is being written (a slow database is not piled on). */
  #tick(): void {
    if (this.#flushing === null && this.#buffer.size > 0) this.#startBatch();
  }

  #startBatch(): Promise<void> {
    const flushing = this.#writeBatch().finally(() => {
      this.#flushing = null;
    });
    this.#flushing = flushing;
    return flushing;
  }

  /** Writes everything noted so far, after the batch in flight (tests, and onClose). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#flushing !== null) {
        await this.#flushing;
        continue;
      }
      if (this.#buffer.size === 0) return;
      await this.#startBatch();
    }
  }

  /**
   * Stops the timers and writes what is left (onClose: before the database closes). If a batch fails the
   * rest is dropped (counted and logged): a database that is down must not hold the shutdown for one
   * timeout per batch.
   */
  async stop(): Promise<void> {
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
    if (this.#purgeTimer !== null) clearInterval(this.#purgeTimer);
    this.#flushTimer = null;
    this.#purgeTimer = null;
    this.#stopping = true;
    await this.flush();
  }

  /** One batch, oldest first. Never rejects: a failed write is counted and logged. */
  async #writeBatch(): Promise<void> {
    const batch = this.#buffer.take(this.#batchSize);
    // A roll-up taken for writing is closed: later reads of its minute open a new one, added to the same row.
    for (const pending of batch) {
      if (pending.bucket !== null && this.#buckets.get(pending.bucket) === pending) this.#buckets.delete(pending.bucket);
    }
    this.#reportDrops();
    if (batch.length === 0) return;
    try {
      await this.#options.write(batch.map((pending) => pending.row));
    } catch (error) {
      const lost = batch.reduce((sum, pending) => sum + pending.row.count, 0);
      this.#dropped += lost;
      this.#droppedLogged += lost;
      this.#log?.warn({ err: error, lost }, 'could not write API key activity; these requests are not recorded');
      if (this.#stopping) this.#dropRest();
    }
  }

  #dropRest(): void {
    const rest = this.#buffer.take(this.#buffer.size);
    this.#buckets.clear();
    this.#dropped += rest.reduce((sum, pending) => sum + pending.row.count, 0);
    this.#reportDrops();
  }

  #reportDrops(): void {
    const unreported = this.#dropped - this.#droppedLogged;
    if (unreported === 0) return;
    this.#droppedLogged = this.#dropped;
    this.#log?.warn({ dropped: unreported, dropped_total: this.#dropped }, 'API key activity buffer was full; the oldest requests were not recorded');
  }
}

/** `/clusters/:id` → `/clusters/{id}`, as the route inventory and the OpenAPI document spell it. */
const templates = new Map<string, string>();
function routeTemplate(url: string): string {
  let template = templates.get(url);
  if (template === undefined) {
    template = url.replace(/:(\w+)/g, '{$1}');
    templates.set(url, template);
  }
  return template;
}

/** Statuses that turn the caller away (credential, scope, user-only, address, resource, rate limit). */
const isRefusal = (status: number): boolean => status === 401 || status === 403 || status === 429;

/**
 * The onResponse hook: requests the gate recognised as an API key (`request.caller`, auth-gate.ts) are
 * noted, refused ones included; anonymous requests and invalid credentials belong to no key.
 */
export function keyActivityHook(recorder: KeyActivityRecorder): onResponseHookHandler {
  return function keyActivity(request, reply, done) {
    const caller = request.caller;
    if (caller === null || caller.type !== 'api_key') return done();
    const status = reply.statusCode;
    const method = request.method;
    const route = routeTemplate(request.routeOptions.url ?? request.url);
    const refused = isRefusal(status);
    if (!refused && (method === 'GET' || method === 'HEAD')) {
      recorder.countRead(caller.keyId, method, route, status);
      return done();
    }
    const problem = reply.problem;
    const userAgent = request.headers['user-agent'];
    recorder.record({
      keyId: caller.keyId,
      kind: refused ? 'refused' : 'write',
      method,
      route,
      status,
      code: problem?.code ?? null,
      missingScope: typeof problem?.extras.required_scope === 'string' ? problem.extras.required_scope : null,
      clientIp: request.ip,
      userAgent: typeof userAgent === 'string' ? userAgent : null,
    });
    done();
  };
}
