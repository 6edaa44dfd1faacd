import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { systemActor } from '../events/actor.js';
import type { EventLog } from '../events/event-log.js';
import { createExpiryNoticeRepo, expiryNoticeKey } from './expiry-notice-repo.js';

const DAY_MS = 24 * 3600 * 1000;
/**
 * Notices per key (issue 13: 7 days and 1 day before `expires_at`), each for keys expiring within its
 * window: a key found already inside the 1-day window (made to live a few hours, or an instance was down)
 * gets only the 1-day notice, never "7 days" after "1 day".
 */
const NOTICES = [
  { name: '7d', fromMs: DAY_MS, untilMs: 7 * DAY_MS },
  { name: '1d', fromMs: 0, untilMs: DAY_MS },
] as const;
/** Keys handled per statement: a run over many expiring keys is several short transactions, never one long one. */
const BATCH = 200;
/** How often each instance looks (the notice is raised once whichever instance finds it first). */
export const EXPIRY_NOTICE_INTERVAL_MS = 5 * 60 * 1000;

export interface ExpiryNotices {
  /** Raises every notice due now; returns how many were raised. The timer calls it; tests may too. */
  run(): Promise<number>;
  start(log: FastifyBaseLogger): void;
  stop(): Promise<void>;
}

/**
 * `api_key.expiring` (issue 13): raised 7 days and 1 day before a live key expires (a key made to live
 * less than that gets the notices still ahead of it). Each notice has a dedupe key naming the key, its
 * expiry and the notice, so every instance may look and the event is stored, and delivered, once; a key
 * given a new expiry would get its own notices (expires_at cannot change today, but the key says which).
 */
export function createExpiryNotices(deps: { db: Db; clock: Clock; events: Pick<EventLog, 'record'> }): ExpiryNotices {
  const { db, clock } = deps;
  const repo = createExpiryNoticeRepo(db);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let log: FastifyBaseLogger | null = null;

  async function raise(notice: (typeof NOTICES)[number], now: Date): Promise<number> {
    const from = new Date(now.getTime() + notice.fromMs).toISOString();
    const until = new Date(now.getTime() + notice.untilMs).toISOString();
    let raised = 0;
    let after = '';
    for (;;) {
      const due = await repo.due(notice.name, { from, until }, after, BATCH);
      for (const key of due) {
        const expiresAt = key.expires_at;
        if (expiresAt === null) continue;
        const recorded = await db.transaction().execute((trx) =>
          deps.events.record(trx, {
            accountId: key.account_id,
            type: 'api_key.expiring',
            actor: systemActor('expiry_notices'),
            subject: { type: 'api_key', id: key.id },
            data: { name: key.name, expires_at: expiresAt, notice: notice.name },
            dedupeKey: expiryNoticeKey(notice.name, key.id, expiresAt),
          }),
        );
        if (recorded !== null) raised++;
      }
      if (due.length < BATCH) return raised;
      after = due[due.length - 1]!.id;
    }
  }

  async function runOnce(): Promise<number> {
    const now = clock.now();
    let raised = 0;
    for (const notice of NOTICES) raised += await raise(notice, now);
    return raised;
  }

  const notices: ExpiryNotices = {
    run() {
      // One run at a time per instance: a slow database must not stack runs up.
      running ??= runOnce().finally(() => {
        running = null;
      });
      return running;
    },

    start(logger) {
      log = logger;
      const tick = () => {
        notices.run().catch((error: unknown) => log?.warn({ err: error }, 'API key expiry notices failed; retrying at the next interval'));
      };
      tick();
      timer = setInterval(tick, EXPIRY_NOTICE_INTERVAL_MS);
      timer.unref();
    },

    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
  return notices;
}
