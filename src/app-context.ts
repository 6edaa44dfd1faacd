import type { Config } from './config.js';
import type { DatabaseHandle } from './db/database.js';
import type { InfraDriver } from './infra/driver.js';
import type { Clock } from './lib/clock.js';
import type { SessionVerifier } from './auth/session-verifier.js';
import type { DevIssuer } from './auth/dev-issuer.js';

/** Everything buildApp needs, made explicitly by main.ts or by a test. Nothing is read from the environment later. */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  driver: InfraDriver;
  verifySession: SessionVerifier;
  /** HMAC pepper for API key digests (kept out of the database). */
  pepper: Buffer;
  /** AES-256-GCM key for cloud credentials at rest. */
  encryptionKey: Buffer;
  /** Start the in-process job runner when the server is ready (off for tests that only read). */
  runJobs: boolean;
  /** A name for this process in job leases; defaults to host:pid:random. */
  instanceId?: string;
  /** The local development issuer, when it is on: the dashboard's development sign-in mints with it. */
  devIssuer?: DevIssuer | null;
  /** Pino options; tests pass a stream to capture log lines. */
  logger?: boolean | Record<string, unknown>;
}
