import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { KyselyPlugin } from 'kysely';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createRuntimeDeps, type RuntimeDeps } from '../../src/deps.js';
import type { Clock } from '../../src/lib/clock.js';
import { sharedTestClerk, type TestClerk } from './clerk.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from './database.js';

export { TEST_DIALECT };

export interface HarnessOptions {
  runJobs?: boolean;
  env?: Record<string, string>;
  clock?: Clock;
  /** Kysely plugins on the app's own database instance (tests that watch the statements the app runs). */
  plugins?: KyselyPlugin[];
  /** Collects the app's log lines (JSON text, level info and up) here. */
  logLines?: string[];
}

/** A tenant for tests: one user in a personal account (or an organisation) with a session token. */
export interface Account {
  userId: string;
  orgId: string | null;
  accountId: string;
  email: string;
  token: string;
  auth: { authorization: string };
}

export interface Harness {
  app: App;
  deps: RuntimeDeps;
  clerk: TestClerk;
  scratch: ScratchDatabase;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  /**
   * A new user, each in its own account (or in `orgId`). The account is put on the business plan (25
   * clusters) so that tests of other things are not stopped by the free plan's one cluster; `plan: 'free'`
   * leaves it as a new account is (tests of billing and plan limits).
   */
  newAccount(options?: { orgId?: string; email?: string | null; plan?: 'free' | 'team' | 'business' }): Promise<Account>;
  /** Creates an API key through the API, as `account`'s user; returns the secret. */
  createKey(account: Account, scopes?: string[], extra?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

/** Builds the real app (real config parsing, real database, CLERK_JWT_KEY mode) for one test file. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clerk = sharedTestClerk();
  const scratch = await createScratchDatabase();
  const config = loadConfig({
    DATABASE_URL: scratch.url,
    DATA_DIR: scratch.dataDir,
    CLERK_JWT_KEY: clerk.publicKeyPem,
    LOG_LEVEL: 'silent',
    SIMULATED_STEP_MS: '5',
    JOB_POLL_INTERVAL_MS: '20',
    JOB_LEASE_MS: '5000',
    // Suites send many invalid credentials from 127.0.0.1 on purpose; the throttle is tested where asked for.
    AUTH_FAILURE_LIMIT: 'off',
    ...options.env,
  });
  const deps = await createRuntimeDeps(config, { runJobs: options.runJobs ?? false });
  if (options.clock) deps.clock = options.clock;
  for (const plugin of options.plugins ?? []) deps.database = { ...deps.database, db: deps.database.db.withPlugin(plugin) };
  const lines = options.logLines;
  if (lines) deps.logger = { level: 'info', stream: { write: (line: string) => lines.push(line) } };
  const app = await buildApp(deps);

  const harness: Harness = {
    app,
    deps,
    clerk,
    scratch,
    inject: (request) => app.inject(request),
    async newAccount({ orgId, email, plan = 'business' } = {}) {
      const userId = `user_${randomBytes(8).toString('hex')}`;
      const mail = email === undefined ? `${userId}@example.com` : email;
      const claims: Record<string, unknown> = { sub: userId };
      if (mail !== null) claims.email = mail;
      if (orgId) claims.org_id = orgId;
      const token = await clerk.session(claims, { expiresInSeconds: 3600 });
      const auth = { authorization: `Bearer ${token}` };
      if (plan !== 'free') {
        const changed = await app.inject({ method: 'POST', url: '/billing/subscription', headers: auth, payload: { plan } });
        if (changed.statusCode !== 200) throw new Error(`newAccount: plan ${plan}: ${changed.statusCode} ${changed.body}`);
      }
      return { userId, orgId: orgId ?? null, accountId: orgId ?? userId, email: mail ?? '', token, auth };
    },
    async createKey(account, scopes, extra = {}) {
      const response = await app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: account.auth,
        payload: { name: `key-${randomBytes(3).toString('hex')}`, ...(scopes ? { scopes } : {}), ...extra },
      });
      if (response.statusCode !== 201) throw new Error(`createKey failed: ${response.statusCode} ${response.body}`);
      const body = response.json() as { id: string; key: string };
      return { id: body.id, key: body.key };
    },
    async close() {
      await app.close();
      await deps.database.close();
      await scratch.drop();
    },
  };
  return harness;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Polls until `check` returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
