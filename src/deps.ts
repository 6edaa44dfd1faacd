import { randomBytes } from 'node:crypto';
import type { AppDeps } from './app-context.js';
import type { Config } from './config.js';
import { loadDevIssuer, DEV_ISSUER, type DevIssuer } from './auth/dev-issuer.js';
import { createSessionVerifier } from './auth/session-verifier.js';
import { migrate, openDatabase } from './db/database.js';
import { checkSecretFingerprints } from './db/secret-fingerprints.js';
import { createSimulatedDriver } from './infra/simulated-driver.js';
import { systemClock } from './lib/clock.js';
import { loadOrCreateSecretFile } from './lib/secret-files.js';

export interface RuntimeDeps extends AppDeps {
  /** Set when no CLERK_JWT_KEY is configured: the local development issuer is in use. */
  devIssuer: DevIssuer | null;
}

function secretFromDataDir(dataDir: string, name: string, bytes: number): Buffer {
  return Buffer.from(loadOrCreateSecretFile(dataDir, name, () => randomBytes(bytes).toString('base64')).trim(), 'base64');
}

/** Turns configuration into the real dependencies: database (migrated), secrets, verifier, driver. */
export async function createRuntimeDeps(config: Config, options: { runJobs?: boolean } = {}): Promise<RuntimeDeps> {
  const database = openDatabase(config.database);
  await migrate(database);
  const pepper = config.apiKeyPepper ?? secretFromDataDir(config.dataDir, 'api-key-pepper', 32);
  const encryptionKey = config.encryptionKey ?? secretFromDataDir(config.dataDir, 'encryption-key', 32);
  try {
    await checkSecretFingerprints(
      database.db,
      [
        { variable: 'API_KEY_PEPPER', value: pepper },
        { variable: 'ENCRYPTION_KEY', value: encryptionKey },
      ],
      new Date().toISOString(),
    );
  } catch (error) {
    await database.close();
    throw error;
  }
  const devIssuer = config.clerk.devIssuer ? loadDevIssuer(config.dataDir) : null;
  const verifySession = createSessionVerifier(
    devIssuer
      ? { jwtKey: devIssuer.publicKeyPem, issuer: DEV_ISSUER, authorizedParties: [], emailClaim: 'email' }
      : { jwtKey: config.clerk.jwtKey ?? '', issuer: config.clerk.issuer, authorizedParties: config.clerk.authorizedParties, emailClaim: config.clerk.emailClaim },
  );
  return {
    config,
    database,
    clock: systemClock,
    driver: createSimulatedDriver({ stepMs: config.simulatedStepMs }),
    verifySession,
    pepper,
    encryptionKey,
    runJobs: options.runJobs ?? true,
    devIssuer,
  };
}
