import { rotateSigningKey, RETIRED_KEY_PUBLISHED_MS, KEY_REFRESH_MS } from './signing-key-store.js';
import type { Config } from '../../config.js';
import { createRuntimeDeps } from '../../deps.js';

/**
 * `skaledata rotate-signing-key`: run against the same database and ENCRYPTION_KEY (or data folder) as
 * the servers. Returns the lines to print.
 */
export async function rotateSigningKeyCommand(config: Config): Promise<string[]> {
  const deps = await createRuntimeDeps(config, { runJobs: false });
  try {
    const { kid, retired } = await rotateSigningKey(deps.database.db, deps.clock, deps.encryptionKey);
    return [
      `new signing key: ${kid}`,
      retired.length > 0 ? `retired: ${retired.join(', ')}` : 'retired: none (this is the first key)',
      `running servers sign with the new key within ${KEY_REFRESH_MS / 1000} s; retired keys stay in /.well-known/jwks.json for ${RETIRED_KEY_PUBLISHED_MS / 60_000} min`,
    ];
  } finally {
    await deps.database.close();
  }
}
