import type { FastifyBaseLogger } from 'fastify';
import type { CanaryReporter, CanaryRequest, CanaryTrip } from '../../auth/canary.js';
import type { EventInput } from '../events/event-types.js';

/**
 * Reports the uses of canary keys (CONTRACT §7) as `api_key.canary_used` events, off the request path:
 * the request that presented the canary was answered exactly as for an unknown key (same refusal, same
 * cost), and only then is its use noted here, in memory. The events are written after the response, one
 * small transaction each, so nothing an outsider can time depends on them.
 *
 * The flood is bounded twice: at most one event per canary key, client address and minute (its
 * `dedupeKey`, so several instances store it once too; the same triple is not even queued twice here), and
 * at most `capacity` events waiting (more are dropped, counted and logged: an alarm that has already
 * fired on this key and address loses nothing, the rest arrive with the next minute's uses).
 */

export interface CanaryAlarmOptions {
  /** Stores one event in a transaction of its own. */
  write: (event: EventInput) => Promise<void>;
  /** The app's clock, in ms: the minute of the dedupe key. */
  now: () => number;
  /** Events waiting to be written; more are dropped. */
  capacity?: number;
}

const MINUTE_MS = 60_000;
const DEFAULT_CAPACITY = 1000;
/** Longest user agent and path kept (free text chosen by the caller). */
const MAX_TEXT = 256;

/** `/clusters/:id` → `/clusters/{id}` (as the OpenAPI document spells it); no route: the path without its query. */
export function canaryRoute(request: Pick<CanaryRequest, 'url' | 'routeOptions'>): string {
  const template = request.routeOptions?.url;
  if (template !== undefined) return template.replace(/:(\w+)/g, '{$1}');
  return (request.url.split('?')[0] ?? '').slice(0, MAX_TEXT);
}

/** The dedupe key of a canary use: one event per key, client address and minute. */
export const canaryDedupeKey = (keyId: string, ip: string, atMs: number): string => `canary:${keyId}:${ip}:${Math.floor(atMs / MINUTE_MS)}`;

export class CanaryAlarm implements CanaryReporter {
  readonly #options: CanaryAlarmOptions;
  readonly #capacity: number;
  readonly #queue: EventInput[] = [];
  /** Key id → client addresses already queued in the current minute (cleared when it changes): no string built per use. */
  readonly #seen = new Map<string, Set<string>>();
  #seenMinute = -1;
  #flushing: Promise<void> | null = null;
  #scheduled = false;
  #dropped = 0;
  #dropLoggedMinute = -1;
  #log: FastifyBaseLogger | null = null;

  constructor(options: CanaryAlarmOptions) {
    this.#options = options;
    this.#capacity = options.capacity ?? DEFAULT_CAPACITY;
  }

  /** Events not written: dropped from a full queue or refused by the database. */
  get dropped(): number {
    return this.#dropped;
  }

  start(log: FastifyBaseLogger): void {
    this.#log = log;
  }

  /** Notes a canary's use; call it after the refusal is sent. Never throws, never waits. */
  trip(trip: CanaryTrip, request: CanaryRequest): void {
    const atMs = this.#options.now();
    const minute = Math.floor(atMs / MINUTE_MS);
    if (minute !== this.#seenMinute) {
      this.#seenMinute = minute;
      this.#seen.clear();
    }
    const ip = request.ip;
    const seen = this.#seen.get(trip.keyId);
    if (seen?.has(ip) === true) return;
    if (this.#queue.length >= this.#capacity) {
      this.#dropped++;
      // One line per minute at most: the flood that fills the queue must not flood the log too.
      if (this.#dropLoggedMinute !== minute) {
        this.#dropLoggedMinute = minute;
        this.#log?.warn({ dropped_total: this.#dropped }, 'canary key alarm queue is full; uses beyond it are not recorded');
      }
      return;
    }
    if (seen === undefined) this.#seen.set(trip.keyId, new Set([ip]));
    else seen.add(ip);
    const dedupeKey = canaryDedupeKey(trip.keyId, ip, atMs);
    const agent = request.headers['user-agent'];
    const userAgent = typeof agent === 'string' ? agent.slice(0, MAX_TEXT) : null;
    this.#queue.push({
      accountId: trip.accountId,
      type: 'api_key.canary_used',
      // The server raises it; the address and agent are the intruder's, as the event's actor shows them.
      actor: { type: 'system', id: 'canary', clientIp: ip, userAgent },
      subject: { type: 'api_key', id: trip.keyId },
      data: { client_ip: ip, user_agent: userAgent, method: request.method, route: canaryRoute(request) },
      dedupeKey,
    });
    this.#schedule();
  }

  /** Writes after the current turn of the event loop: the refusal has gone out by then. */
  #schedule(): void {
    if (this.#scheduled || this.#flushing !== null) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  /** Writes every use noted so far (tests, and onClose). Never rejects. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.#queue.length === 0) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
    });
    await this.#flushing;
  }

  async #drain(): Promise<void> {
    for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
      try {
        await this.#options.write(event);
      } catch (error) {
        this.#dropped++;
        this.#log?.warn({ err: error, api_key_id: event.subject.id }, 'could not record a canary key use');
      }
    }
  }
}
