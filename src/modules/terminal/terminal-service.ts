import { lifetimeWithin } from '../../auth/decision.js';
import { createHmac } from 'node:crypto';
import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import { AppError, challenge, conflict, notFound } from '../../http/errors.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId, randomBase62 } from '../../lib/ids.js';
import { createClusterRepo, loadClusterSpec } from '../clusters/cluster-repo.js';
import { createTerminalRepo } from './terminal-repo.js';

/** A terminal token opens one connection within this window, once. */
export const TERMINAL_TOKEN_TTL_MS = 60_000;
/** Sessions a cluster may have with an unexpired token at once (security plan: per-tenant concurrency caps). */
export const MAX_LIVE_SESSIONS_PER_CLUSTER = 5;

const TOKEN_PREFIX = 'skt_';
const TOKEN_PATTERN = /^skt_[0-9A-Za-z]{43}$/;

export interface TerminalServiceDeps {
  db: Db;
  clock: Clock;
  driver: InfraDriver;
  pepper: Buffer;
  publicUrl: string;
}

/** One answer for every token that cannot be spent, so the gateway learns nothing about why. */
const invalidTerminalToken = (): AppError =>
  new AppError('invalid_token', 'The terminal token is invalid, expired or already used.', {}, challenge({ code: 'invalid_token' }));

export function createTerminalService(deps: TerminalServiceDeps) {
  const { db, clock, driver, pepper } = deps;
  const repo = createTerminalRepo(db);
  const clusters = createClusterRepo(db);
  // Browsers open the terminal over TLS at the API's public host; the gateway serves this path.
  const connectBase = `wss://${new URL(deps.publicUrl).host}/terminal/sessions`;

  // High-entropy random tokens need no slow hash; the pepper keeps a database leak from confirming one.
  const digest = (token: string) => createHmac('sha256', pepper).update(token).digest('hex');

  async function reserve(principal: Principal, clusterId: string, id: string, tokenHash: string, now: Date) {
    const nowIso = now.toISOString();
    // Never redeemable after terminal:exec lapses (scope_expires_at).
    const expiresAt = new Date(now.getTime() + lifetimeWithin(principal, ['terminal:exec'], now.getTime(), TERMINAL_TOKEN_TTL_MS / 1000) * 1000).toISOString();
    const reserved = await db.transaction().execute(async (trx) => {
      // Concurrent session requests for one cluster count and insert one after another, on PostgreSQL as on SQLite.
      if (!(await clusters.lockRunning(trx, principal.accountId, clusterId, { idle: false }))) return false;
      const live = await repo.liveExpiries(trx, clusterId, nowIso);
      if (live.length >= MAX_LIVE_SESSIONS_PER_CLUSTER) {
        const retryAfter = Math.max(1, Math.ceil((Date.parse(live[0] ?? expiresAt) - now.getTime()) / 1000));
        throw new AppError(
          'rate_limited',
          `Cluster ${clusterId} already has ${MAX_LIVE_SESSIONS_PER_CLUSTER} terminal sessions waiting to connect; retry in ${retryAfter} s.`,
          { retry_after_seconds: retryAfter },
          { 'retry-after': String(retryAfter) },
        );
      }
      // The pod is filled in once the driver has made it; until then the token cannot be redeemed.
      await repo.insert(trx, {
        id,
        account_id: principal.accountId,
        cluster_id: clusterId,
        pod: '',
        namespace: '',
        token_hash: tokenHash,
        expires_at: expiresAt,
        used_at: null,
        created_by: principalId(principal),
        created_at: nowIso,
      });
      return true;
    });
    if (!reserved) {
      // Looked up after the transaction: on SQLite a second query inside it would wait for itself.
      const cluster = await clusters.get(principal.accountId, clusterId);
      if (!cluster || cluster.status === 'deleted') throw notFound('cluster', clusterId);
      throw conflict(`Cluster ${clusterId} is ${cluster.status}; a terminal can be opened while it is running.`, { cluster_status: cluster.status });
    }
    return expiresAt;
  }

  return {
    async open(principal: Principal, clusterId: string) {
      const now = clock.now();
      const id = newId('terminalSession', now.getTime());
      const token = `${TOKEN_PREFIX}${randomBase62(43)}`;
      const expiresAt = await reserve(principal, clusterId, id, digest(token), now);
      let pod: { pod: string; namespace: string };
      try {
        // Outside the transaction: the driver talks to the cluster and may be slow.
        pod = await driver.createTerminalPod(await loadClusterSpec(db, clusterId), id);
      } catch (error) {
        await repo.remove(id);
        throw error;
      }
      await repo.setPod(id, pod.pod, pod.namespace);
      return {
        session_id: id,
        cluster_id: clusterId,
        pod: pod.pod,
        namespace: pod.namespace,
        connect_url: `${connectBase}/${id}`,
        token,
        expires_at: expiresAt,
      };
    },

    /** Called by the terminal gateway: spends the token and says which pod it opens. */
    async redeem(token: string) {
      if (!TOKEN_PATTERN.test(token)) throw invalidTerminalToken();
      const session = await repo.redeem(digest(token), clock.now().toISOString());
      if (!session) throw invalidTerminalToken();
      return {
        session_id: session.id,
        cluster_id: session.cluster_id,
        pod: session.pod,
        namespace: session.namespace,
        account_id: session.account_id,
      };
    },
  };
}

export type TerminalService = ReturnType<typeof createTerminalService>;
