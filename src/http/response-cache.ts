import type { FastifyReply, FastifyRequest } from 'fastify';
import { LruMap } from '../lib/lru.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Bodies kept; with MAX_KEPT_BODY_CHARS that bounds the cache at 32 MB. */
export const RESPONSES_KEPT = 500;
/** Larger bodies (long pages) are served but not kept. */
export const MAX_KEPT_BODY_CHARS = 64 * 1024;

/**
 * Serialized JSON bodies of read-only responses (the lists of clusters, clouds and apps), kept while the
 * database has not changed. Reading a 20-cluster page from SQLite and serializing it costs several
 * times more than the rest of the request; dashboards poll the same pages over and over.
 *
 * Not time-limited: every entry is stored under the change stamp of the listed tables (db/row-changes.ts)
 * as read *before* its rows were read, and served only while the stamp is still the same. Any row this
 * process writes moves the stamp at once; another SQLite connection's commit, within
 * OTHER_COMMITS_CHECK_MS; another PostgreSQL instance's commit, when its notification arrives
 * (OTHER_INSTANCES_BOUND_MS). So a write never hides behind a kept page for longer than that; a write
 * racing the read at worst makes the entry unusable. Only producers whose body is a function of the
 * rows of WATCHED_TABLES (db/watched-tables.ts) and the key (no clock, no caller, no other table) may use it.
 *
 * While there is no stamp (PostgreSQL with its LISTEN connection down) nothing is kept or served kept:
 * every request produces its body.
 */
export interface ResponseCache {
  /**
   * Sends the JSON body of a list: `produce`'s value serialized by the route's response schema, or the
   * same bytes from an earlier request for the same route, account and validated query (listKey) if the
   * database has not changed since (sent at once, without a promise). A failure of `produce` goes to the
   * error handler. The handler returns nothing. `accountId` null: a page only this caller sees (a key
   * limited to some resources), produced and never kept.
   */
  send(request: FastifyRequest, reply: FastifyReply, accountId: string | null, produce: () => Promise<unknown>): void;
}

interface KeptBody {
  stamp: string;
  body: string;
}

export function createResponseCache(changeStamp: () => string | undefined, capacity = RESPONSES_KEPT): ResponseCache {
  const kept = new LruMap<string, KeptBody>(capacity);

  // A string with a JSON content type is sent as it is: serialized once, by the route's own schema.
  const sendJson = (reply: FastifyReply, body: string) => reply.type(JSON_TYPE).send(body);
  // Anything thrown on the way (the query, the serializer) is answered by the error handler.
  const fail = (reply: FastifyReply) => (error: unknown) => reply.send(error instanceof Error ? error : new Error(String(error)));

  return {
    send(request, reply, accountId, produce) {
      // Read before the rows are: a write racing the read leaves the entry under a stamp already gone.
      const stamp = changeStamp();
      // Without a stamp (changes may go unseen) nothing is kept, and there is no key to make.
      const key = stamp === undefined || accountId === null ? null : listKey(request.routeOptions.url ?? request.url, accountId, request.query as Record<string, unknown>);
      if (key !== null) {
        const entry = kept.get(key);
        if (entry !== undefined && entry.stamp === stamp) {
          sendJson(reply, entry.body);
          return;
        }
      }
      produce()
        .then((value) => {
          const body = reply.serialize(value) as string;
          if (key !== null && stamp !== undefined) {
            if (body.length <= MAX_KEPT_BODY_CHARS) kept.set(key, { stamp, body });
            else kept.delete(key);
          }
          sendJson(reply, body);
        })
        .catch(fail(reply));
    },
  };
}

/**
 * The cache key of a list: the route, the account, and the whole validated query (filters, limit with
 * its default applied, cursor), in name order. Taken from the query itself rather than listed by each
 * route, so a filter added to a route's schema is part of the key without anyone having to remember it.
 */
export function listKey(route: string, accountId: string, query: Readonly<Record<string, unknown>>): string {
  const parts: unknown[] = [route, accountId];
  for (const name of Object.keys(query).sort()) parts.push(name, query[name]);
  return JSON.stringify(parts);
}
