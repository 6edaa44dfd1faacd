import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { createEventRepo, type EventFilter, type EventRow } from './event-repo.js';
import type { EventData, EventInput, EventType, EventView, SubjectType } from './event-types.js';

/**
 * What else must happen, in the same transaction, when an event is stored: the webhooks module queues a
 * delivery per subscribed endpoint here, so an event is never stored without its deliveries, nor a
 * delivery queued for an event that was rolled back.
 */
export type EventFanOut = (trx: Db, event: EventView & { accountId: string }) => Promise<void>;

export interface EventLog {
  /**
   * Stores the event in `trx`, the transaction of the change it records (and queues its deliveries).
   * Null when its dedupe key was stored already: nothing is written then.
   */
  record(trx: Db, input: EventInput): Promise<EventView | null>;
  /** Adds what each stored event also sets off (called once per module, at registration). */
  addFanOut(fanOut: EventFanOut): void;
  list(accountId: string, filter: EventFilter, page: { limit: number; after: string | null }): Promise<EventRow[]>;
}

export function presentEvent(row: EventRow): EventView {
  return {
    id: row.id,
    type: row.type as EventType,
    created_at: row.created_at,
    actor: { type: row.actor_type as EventView['actor']['type'], id: row.actor_id, client_ip: row.client_ip, user_agent: row.user_agent },
    subject: { type: row.subject_type as SubjectType, id: row.subject_id },
    data: JSON.parse(row.data) as EventData,
  };
}

export function createEventLog(deps: { db: Db; clock: Clock }): EventLog {
  const repo = createEventRepo(deps.db);
  const fanOuts: EventFanOut[] = [];

  return {
    async record(trx, input) {
      const now = deps.clock.now();
      const { actor, subject } = input;
      const row: EventRow = {
        id: newId('event', now.getTime()),
        account_id: input.accountId,
        type: input.type,
        actor_type: actor.type,
        actor_id: actor.id,
        client_ip: actor.clientIp,
        user_agent: actor.userAgent,
        subject_type: subject.type,
        subject_id: subject.id,
        // Filterable by key: the key the event is about, else the key that did it.
        api_key_id: subject.type === 'api_key' ? subject.id : actor.type === 'api_key' ? actor.id : null,
        data: JSON.stringify(input.data ?? {}),
        created_at: now.toISOString(),
        dedupe_key: input.dedupeKey ?? null,
      };
      if (!(await repo.insert(trx, row))) return null;
      const event = presentEvent(row);
      for (const fanOut of fanOuts) await fanOut(trx, { ...event, accountId: row.account_id });
      return event;
    },

    addFanOut(fanOut) {
      fanOuts.push(fanOut);
    },

    list: (accountId, filter, page) => repo.list(accountId, filter, page),
  };
}
