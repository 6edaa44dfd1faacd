import { createHmac } from 'node:crypto';
import { ConfigError } from '../config.js';
import type { Db } from './database.js';

/**
 * Instances sharing a database must share the API-key pepper and the encryption key: a key made on
 * one instance would otherwise fail on the next, and credentials would not decrypt. The first start
 * records a fingerprint of each (an HMAC, which reveals nothing of the secret); later starts with a
 * different secret refuse to run, naming the variable.
 */
export async function checkSecretFingerprints(db: Db, secrets: Array<{ variable: string; value: Buffer }>, now: string): Promise<void> {
  for (const { variable, value } of secrets) {
    const name = `fingerprint:${variable}`;
    const fingerprint = createHmac('sha256', value).update('skaledata secret fingerprint').digest('hex');
    await db
      .insertInto('settings')
      .values({ name, value: fingerprint, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const stored = await db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    if (stored.value !== fingerprint) {
      throw new ConfigError(
        variable,
        'differs from the one this database was set up with; every instance must use the same value (keys and credentials depend on it)',
      );
    }
  }
}
