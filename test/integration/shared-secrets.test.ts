import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createRuntimeDeps } from '../../src/deps.js';
import { sharedTestClerk } from '../helpers/clerk.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';

describe(`instances must share the pepper and encryption key (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  const pepper = randomBytes(32).toString('base64');
  const encryption = randomBytes(32).toString('base64');
  const env = (overrides: Record<string, string>) =>
    loadConfig({ DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, CLERK_JWT_KEY: sharedTestClerk().publicKeyPem, LOG_LEVEL: 'silent', API_KEY_PEPPER: pepper, ENCRYPTION_KEY: encryption, ...overrides });

  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(async () => scratch.drop());

  it('starts again with the same secrets', async () => {
    for (let i = 0; i < 2; i++) {
      const deps = await createRuntimeDeps(env({}), { runJobs: false });
      await deps.database.close();
    }
  });

  it.each([
    ['API_KEY_PEPPER', { API_KEY_PEPPER: randomBytes(32).toString('base64') }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: randomBytes(32).toString('base64') }],
  ])('refuses to start with a different %s, naming it', async (variable, overrides) => {
    const error = await createRuntimeDeps(env(overrides), { runJobs: false }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} differs from the one this database was set up with`));
  });
});
