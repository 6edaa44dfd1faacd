import type { DatabaseHandle } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { KEY_REFRESH_MS, RETIRED_KEY_PUBLISHED_MS, rotateSigningKey } from './signing-key-store.js';

/**
 * `skaledata rotate-signing-key` (cli.ts builds the dependencies from the same configuration as the
 * servers: database and ENCRYPTION_KEY or data folder). Returns the lines to print.
 */
export async function rotateSigningKeyCommand(
  deps: { database: Pick<DatabaseHandle, 'db'>; clock: Clock; encryptionKey: Buffer },
  activateInSeconds = 0,
): Promise<string[]> {
  const { kid, retired, activatesAt } = await rotateSigningKey(deps.database.db, deps.clock, deps.encryptionKey, activateInSeconds);
  const staged = activateInSeconds > 0;
  return [
    `new signing key: ${kid}`,
    retired.length > 0 ? `retired: ${retired.join(', ')}${staged ? ` (at ${activatesAt.toISOString()})` : ''}` : 'retired: none (this is the first key)',
    staged
      ? `published within ${KEY_REFRESH_MS / 1000} s (/.well-known/jwks.json, /.well-known/registry-certs.pem); it signs from ${activatesAt.toISOString()}: refresh registries' certificate bundles before then`
      : `running servers sign with the new key within ${KEY_REFRESH_MS / 1000} s; retired keys stay in /.well-known/jwks.json for ${RETIRED_KEY_PUBLISHED_MS / 60_000} min`,
  ];
}
